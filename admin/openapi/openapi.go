// Package openapi holds the OpenAPI 3.1 description of the gateway's two listeners (API.md
// §11), written once in openapi.yaml, and builds from it the JSON document each listener
// answers at /openapi.json.
//
// Every path item of openapi.yaml says which listener serves it (x-listener: public,
// operator or both); each listener's document has its own paths, its own security and all
// the components. The documents are built once, on first use, and never change: the byte
// slices Document returns are shared and must not be modified. The tests of the management,
// money, number and hold APIs validate every request and answer they make against these
// documents (bench/testkit), so the description cannot drift from what the gateway does.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

// The listeners, as openapi.yaml's x-listener names them.
const (
	Public   = "public"
	Operator = "operator"
)

//go:embed openapi.yaml
var source []byte

// security is what each listener's operations need unless they say otherwise.
var security = map[string][]map[string][]string{
	Public:   {{"basic": {}}, {"authID": {}, "authToken": {}}},
	Operator: {{"operator": {}}},
}

var built = sync.OnceValues(func() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, l := range []string{Public, Operator} {
		b, err := build(l)
		if err != nil {
			return nil, err
		}
		out[l] = b
	}
	return out, nil
})

// Document is the JSON document of listener (Public or Operator). It panics if openapi.yaml
// cannot be built, which its tests rule out.
func Document(listener string) []byte {
	docs, err := built()
	if err != nil {
		panic(err)
	}
	d, ok := docs[listener]
	if !ok {
		panic("openapi: no listener " + listener)
	}
	return d
}

// build renders listener's document: openapi.yaml with the paths of other listeners and every
// x-listener mark removed and the listener's security set.
func build(listener string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(source, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.yaml: no paths")
	}
	for p, item := range paths {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapi.yaml: path %s is not an object", p)
		}
		switch on := m["x-listener"]; on {
		case listener, "both":
			delete(m, "x-listener")
		case Public, Operator:
			delete(paths, p)
		default:
			return nil, fmt.Errorf("openapi.yaml: path %s: x-listener %v is not public, operator or both", p, on)
		}
	}
	doc["security"] = security[listener]
	info, _ := doc["info"].(map[string]any)
	if info != nil {
		info["title"] = fmt.Sprintf("%v: %s listener", info["title"], listener)
	}
	return json.Marshal(doc)
}
