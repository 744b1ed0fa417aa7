package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// body is a request body read into its top-level fields. JSON bodies keep each value's raw
// JSON; form bodies hold each value as a JSON string, so the typed readers below treat both
// alike (and accept "true" and "1000" as booleans and integers in either form). A form key
// "permissions[calls]" or "permissions.calls" becomes the field "permissions" holding an
// object.
type body struct {
	m map[string]json.RawMessage
}

var errNotObject = policy.Invalid("", "the body must be a JSON object")

// readBody reads the request body: 413 beyond max, 400 for malformed JSON or form data and
// duplicate fields. An empty body is an empty object.
func readBody(rc *fasthttp.RequestCtx, max int) (*body, error) {
	raw := rc.PostBody()
	if len(raw) > max || rc.Request.Header.ContentLength() > max {
		return nil, policy.ErrTooLarge
	}
	// A form content type with a body that is a JSON object is JSON: that is what
	// `curl -d '{…}'` sends (it labels every -d body as a form).
	isForm := bytes.HasPrefix(bytes.ToLower(bytes.TrimSpace(rc.Request.Header.ContentType())), []byte("application/x-www-form-urlencoded"))
	if isForm && !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return formBody(raw)
	}
	return jsonBody(raw)
}

// readFields reads the request body (readBody) and refuses a field not among fields
// (body.only). On failure it has answered the error and returns nil.
func (c *call) readFields(fields ...string) *body {
	b, err := readBody(c.rc, c.api.o.MaxBodyBytes)
	if err == nil {
		err = b.only(fields...)
	}
	if err != nil {
		c.fail(err)
		return nil
	}
	return b
}

// writeFields is readFields for a write: a caller that may not write (requireWritable) is
// answered before the body is read.
func (c *call) writeFields(fields ...string) *body {
	if err := c.requireWritable(); err != nil {
		c.fail(err)
		return nil
	}
	return c.readFields(fields...)
}

// requiredString reads field as a string ("" when it is not a JSON string, for the caller's
// own check to refuse); a missing field is 400 "required".
func (b *body) requiredString(field string) (string, error) {
	raw, ok := b.m[field]
	if !ok {
		return "", policy.Invalid(field, "required")
	}
	s, _ := jsonString(raw)
	return s, nil
}

func jsonBody(raw []byte) (*body, error) {
	b := &body{m: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, nil
	}
	m, err := jsonObject(raw, "")
	if err != nil {
		return nil, err
	}
	b.m = m
	return b, nil
}

// jsonObject splits a JSON object into its members, refusing duplicates and trailing data.
// prefix names the object in errors ("" for the body, "permissions." for a member).
func jsonObject(raw []byte, prefix string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(prefix, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if prefix != "" {
			return nil, policy.Invalid(strings.TrimSuffix(prefix, "."), "must be an object")
		}
		return nil, errNotObject
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(prefix, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, malformed(prefix, errors.New("object key expected"))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(prefix+key, err)
		}
		if _, dup := m[key]; dup {
			return nil, policy.Invalid(prefix+key, "given more than once")
		}
		m[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, malformed(prefix, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, policy.Invalid(strings.TrimSuffix(prefix, "."), "unexpected data after the JSON object")
	}
	return m, nil
}

func malformed(field string, err error) error {
	return policy.Invalid(strings.TrimSuffix(field, "."), "malformed JSON: "+err.Error())
}

func formBody(raw []byte) (*body, error) {
	var args fasthttp.Args
	args.ParseBytes(raw)
	b := &body{m: map[string]json.RawMessage{}}
	perms := map[string]json.RawMessage{}
	for k, v := range args.All() {
		key := string(k)
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return nil, policy.Invalid("", "form data is not valid UTF-8")
		}
		val := stringRaw(string(v))
		dst, name := b.m, key
		if sub, ok := permKey(key); ok {
			dst, name, key = perms, sub, "permissions."+sub
		}
		if _, dup := dst[name]; dup {
			return nil, policy.Invalid(key, "given more than once")
		}
		dst[name] = val
	}
	if len(perms) > 0 {
		if _, dup := b.m["permissions"]; dup {
			return nil, policy.Invalid("permissions", "given more than once")
		}
		b.m["permissions"], _ = json.Marshal(perms)
	}
	return b, nil
}

// permKey recognises the form keys "permissions[x]" and "permissions.x".
func permKey(k string) (string, bool) {
	if s, ok := strings.CutPrefix(k, "permissions["); ok && strings.HasSuffix(s, "]") {
		return s[:len(s)-1], true
	}
	if s, ok := strings.CutPrefix(k, "permissions."); ok {
		return s, true
	}
	return "", false
}

// only refuses any field not in allowed, naming the first in sorted order.
func (b *body) only(allowed ...string) error {
	var unknown []string
	for k := range b.m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return policy.Invalid(unknown[0], "unknown field")
}

// stringRaw is s as a JSON string.
func stringRaw(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonString reads raw as a JSON string; ok is false for any other JSON value.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// parseBool reads true/false, or the strings "true", "false", "1", "0" (any case).
func parseBool(field string, raw json.RawMessage) (bool, error) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if s, ok := jsonString(raw); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
	}
	return false, policy.Invalid(field, "must be a boolean")
}

// parseInt reads an integer given as a JSON number without fraction or exponent, or as a
// string of digits, and checks min ≤ n ≤ max.
func parseInt(field string, raw json.RawMessage, min, max int64) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	if str, ok := jsonString(raw); ok {
		s = strings.TrimSpace(str)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (len(s) > 0 && s[0] == '+') {
		return 0, policy.Invalid(field, "must be an integer")
	}
	if n < min || n > max {
		return 0, policy.Invalid(field, "must be between "+strconv.FormatInt(min, 10)+" and "+strconv.FormatInt(max, 10))
	}
	return n, nil
}

// parseAmount reads money exactly (string or JSON number, at most 6 fraction digits).
func parseAmount(field string, raw json.RawMessage) (model.Amount, error) {
	var a model.Amount
	if isNull(raw) {
		return 0, policy.Invalid(field, "must be an amount, not null")
	}
	if err := a.UnmarshalJSON(bytes.TrimSpace(raw)); err != nil {
		return 0, policy.Invalid(field, "must be a decimal amount with at most 6 fraction digits: "+err.Error())
	}
	return a, nil
}

// textRule bounds a text field.
type textRule struct {
	max       int  // characters
	multiline bool // allows \n, \r and \t
}

// parseText reads a JSON string within rule; control characters are refused.
func parseText(field string, raw json.RawMessage, r textRule) (string, error) {
	s, ok := jsonString(raw)
	if !ok {
		return "", policy.Invalid(field, "must be a string")
	}
	if utf8.RuneCountInString(s) > r.max {
		return "", policy.Invalid(field, "longer than "+strconv.Itoa(r.max)+" characters")
	}
	for _, c := range s {
		if c == utf8.RuneError || c < 0x20 && !(r.multiline && (c == '\n' || c == '\r' || c == '\t')) || c == 0x7f {
			return "", policy.Invalid(field, "contains a control character or invalid UTF-8")
		}
	}
	return s, nil
}
