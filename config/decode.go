package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxVisits bounds how many values a file may expand to, so that anchors
// and aliases cannot make a small file cost exponential work.
const maxVisits = 1 << 18

// decodeYAML decodes the YAML document data, read from file, into c,
// keeping c's value for every setting the document leaves out or sets to
// null. It records in where the "file:line" of every setting it writes.
//
// yaml.v3 parses the document; a walk over the node tree, guided by the
// yaml struct tags, decodes it, so that every error names the setting and
// so that a new upstream starts from DefaultUpstream. yaml.v3's own strict
// decoding (KnownFields) must accept the file as well: it is the reference
// the walk may not be more lenient than.
func decodeYAML(data []byte, file string, c *Config, where map[string]string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty, or only comments: nothing is set
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return &Error{Setting: file, Reason: "holds more than one YAML document"}
	case !errors.Is(err, io.EOF):
		return fmt.Errorf("%s: %w", file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return &Error{Setting: file, Reason: "is not a YAML document"}
	}
	root := doc.Content[0]
	if r := resolve(root); r.Kind != yaml.MappingNode && r.ShortTag() != "!!null" {
		return &Error{Setting: file, Reason: "must hold a mapping of settings, not a " + kindName(r)}
	}
	d := &decoder{file: file, where: where, visits: maxVisits, merging: make(map[*yaml.Node]bool)}
	if err := d.value(root, reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var scratch Config
	if err := strict.Decode(&scratch); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// decoder is the state of one decodeYAML walk.
type decoder struct {
	file    string
	where   map[string]string   // setting path → "file:line"
	visits  int                 // values left to visit before giving up
	merging map[*yaml.Node]bool // mappings being merged with "<<", to refuse cycles
}

func (d *decoder) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d", d.file, n.Line) }

func (d *decoder) fail(setting string, n *yaml.Node, format string, args ...any) error {
	return &Error{Setting: setting, Reason: fmt.Sprintf(format, args...), Source: d.at(n)}
}

func (d *decoder) spend(setting string, n *yaml.Node) error {
	if d.visits--; d.visits < 0 {
		return d.fail(setting, n, "the file expands to too many values")
	}
	return nil
}

// value decodes n into v, the setting at path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) error {
	if err := d.spend(path, n); err != nil {
		return err
	}
	at := n // errors point at the alias, not at its anchor
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.ShortTag() == "!!null" {
		return nil // keep the default
	}
	if path != "" {
		d.where[path] = d.at(at)
	}
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			return d.fail(path, at, "%s", err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer: // an optional block (a route's call): its defaults, then the file
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			if c, ok := v.Interface().(*Call); ok {
				*c = DefaultCall()
			}
		}
		return d.structure(n, v.Elem(), path)
	case reflect.Struct:
		return d.structure(n, v, path)
	case reflect.Map:
		return d.mapping(n, v, path)
	case reflect.Slice:
		return d.sequence(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return d.fail(path, at, "must be a string, not a %s", kindName(n))
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			return d.fail(path, at, "%s", notA(n, "an integer"))
		}
		v.SetInt(i)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			return d.fail(path, at, "%s", notA(n, "true or false"))
		}
		v.SetBool(b)
	default:
		return d.fail(path, at, "cannot be decoded into a %s", v.Type()) // no such field
	}
	return nil
}

// structure decodes mapping n into struct v, whose keys are the yaml tags.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) error {
	return d.pairs(n, path, func(key string, k, val *yaml.Node) error {
		i, known := fieldIndex(v.Type(), key)
		if !known {
			return d.fail(join(path, key), k, "unknown setting; the settings here are %s", strings.Join(yamlKeys(v.Type()), ", "))
		}
		return d.value(val, v.Field(i), join(path, key))
	})
}

// mapping decodes mapping n into map v. Each entry starts from the
// defaults of its type (DefaultUpstream), never from an earlier value.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) error {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	return d.pairs(n, path, func(key string, _, val *yaml.Node) error {
		e := reflect.New(v.Type().Elem()).Elem()
		if u, ok := e.Addr().Interface().(*Upstream); ok {
			*u = DefaultUpstream()
		}
		if err := d.value(val, e, path+"."+key); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
		return nil
	})
}

// sequence decodes list n into slice v, replacing what v held.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.SequenceNode {
		return d.fail(path, n, "must be a list, not a %s", kindName(n))
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if err := d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

// pairs calls f for every key and value of mapping n: first those merged
// in with "<<" (where an earlier mapping wins over a later one), then n's
// own, which win over merged ones. A key written twice is an error.
func (d *decoder) pairs(n *yaml.Node, path string, f func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return d.fail(path, n, "must be a mapping, not a %s", kindName(n))
	}
	if err := d.spend(path, n); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			if err := d.merge(n.Content[i+1], path, f); err != nil {
				return err
			}
		}
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMerge(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return d.fail(path, k, "a key must be a name, not a %s", kindName(k))
		}
		if line, dup := seen[k.Value]; dup {
			return d.fail(join(path, k.Value), k, "set twice (first on line %d)", line)
		}
		seen[k.Value] = k.Line
		if err := f(k.Value, k, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// merge applies the value of a "<<" key: a mapping or a list of mappings.
func (d *decoder) merge(m *yaml.Node, path string, f func(key string, k, v *yaml.Node) error) error {
	var from []*yaml.Node
	switch resolve(m).Kind {
	case yaml.MappingNode:
		from = []*yaml.Node{resolve(m)}
	case yaml.SequenceNode:
		for _, item := range resolve(m).Content {
			if resolve(item).Kind != yaml.MappingNode {
				return d.fail(path, item, "<< must merge mappings, not a %s", kindName(resolve(item)))
			}
			from = append(from, resolve(item))
		}
	default:
		return d.fail(path, m, "<< must merge a mapping or a list of mappings, not a %s", kindName(resolve(m)))
	}
	for i := len(from) - 1; i >= 0; i-- { // the earliest is applied last and wins
		src := from[i]
		if d.merging[src] {
			return d.fail(path, m, "<< merges a mapping into itself")
		}
		d.merging[src] = true
		err := d.pairs(src, path, f)
		delete(d.merging, src)
		if err != nil {
			return err
		}
	}
	return nil
}

// isMerge reports whether k is the merge key "<<", as yaml.v3 decides it.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.Tag == "!!merge" || k.Tag == "tag:yaml.org,2002:merge")
}

func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// fieldIndex returns the index of the field of struct type t whose yaml tag is key.
func fieldIndex(t reflect.Type, key string) (int, bool) {
	if key == "" {
		return 0, false
	}
	for i := range t.NumField() {
		if yamlKey(t.Field(i)) == key {
			return i, true
		}
	}
	return 0, false
}

// yamlKeys lists the keys of struct type t.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// yamlKey is a field's key, or "" for a field that is not a setting.
func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" || !f.IsExported() {
		return ""
	}
	return k
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "scalar"
}

// notA says that n is not what was wanted, quoting n when it is a scalar.
func notA(n *yaml.Node, what string) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q is not %s", n.Value, what)
	}
	return fmt.Sprintf("must be %s, not a %s", what, kindName(n))
}
