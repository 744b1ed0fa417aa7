package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
)

func TestBodyField(t *testing.T) {
	for _, c := range []struct {
		body, want string
		err        error
	}{
		{`{"from": "+14155550100", "to": "+14155550111"}`, "+14155550100", nil},
		{` {"to":{"from":"+1"},"x":[1,{"from":2}],"from":"+14155550100"} `, "+14155550100", nil},
		{`{"fr\u006fm": "\u002b14155550100"}`, "+14155550100", nil},
		{`{"from": "a\"b\\c\/\n\ud83d\ude00"}`, "a\"b\\c/\n\U0001F600", nil},
		{`{"to": "+1"}`, "", errFieldMissing},
		{`{}`, "", errFieldMissing},
		{`{"from": "+1", "from": "+2"}`, "", errFieldTwice},
		{`{"from": 14155550100}`, "", errFieldNotString},
		{`{"from": null}`, "", errFieldNotString},
		{`{"from": "+1"`, "", errBodyMalformed},
		{`{"from": "+1"} x`, "", errBodyMalformed},
		{`{"from": "+1",}`, "", errBodyMalformed},
		{`{"x": 01, "from": "+1"}`, "", errBodyMalformed},
		{`{"x": tru, "from": "+1"}`, "", errBodyMalformed},
		{`{"from": "+1\x01"}`, "", errBodyMalformed},
		{"from=%2B14155550100&to=%2B14155550111", "+14155550100", nil},
		{"to=1&fr%6Fm=%2B1", "+1", nil},
		{"from=+14155550100", " 14155550100", nil}, // '+' is a space in a form
		{"from=", "", nil},
		{"to=%2B1", "", errFieldMissing},
		{"", "", errFieldMissing},
		{"from=1&from=2", "", errFieldTwice},
		{"from=%zz", "", errBodyMalformed},
		{"x=%zz&from=1", "1", nil}, // only the field is decoded
	} {
		got, err := bodyField([]byte(c.body), "from", nil)
		if !errors.Is(err, c.err) || err == nil && string(got) != c.want {
			t.Errorf("bodyField(%q) = %q, %v; want %q, %v", c.body, got, err, c.want, c.err)
		}
		if err != nil && len(got) != 0 {
			t.Errorf("bodyField(%q) failed but appended %q", c.body, got)
		}
	}
}

// FuzzBodyField checks the field reader against encoding/json and net/url: whatever the
// body, it answers what a full decoder finds at the top level (the value when the field is
// there once, "missing" when it is not, "twice" when it is there more often), and refuses
// exactly the JSON bodies encoding/json refuses (or nests deeper than maxDepth).
func FuzzBodyField(f *testing.F) {
	for _, s := range []string{`{"from":"+14155550100"}`, `{"a":[1,{"b":"c"}],"from":"\u0041"}`,
		`{"from":1}`, `{"from":"a","from":"b"}`, "from=%2B1&to=2", "from=1&from=2", "a=%zz", " {}", `{"from":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := bodyField(body, "from", []byte("prefix"))
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("dst lost its prefix: %q", got)
		}
		got = got[len("prefix"):]
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if len(trimmed) > 0 && trimmed[0] == '{' {
			checkJSON(t, body, got, err)
		} else {
			checkForm(t, body, got, err)
		}
	})
}

func checkJSON(t *testing.T, body, got []byte, err error) {
	if !json.Valid(body) {
		if !errors.Is(err, errBodyMalformed) {
			t.Fatalf("%q is no JSON but read as %q, %v", body, got, err)
		}
		return
	}
	if errors.Is(err, errBodyMalformed) {
		if depth(body) <= maxDepth {
			t.Fatalf("valid %q refused as malformed", body)
		}
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, e := dec.Token(); e != nil { // '{'
		t.Fatal(e)
	}
	var vals []json.RawMessage
	for dec.More() {
		k, _ := dec.Token()
		var v json.RawMessage
		if e := dec.Decode(&v); e != nil {
			t.Fatal(e)
		}
		if k == "from" {
			vals = append(vals, v)
		}
	}
	switch {
	case len(vals) == 0:
		if !errors.Is(err, errFieldMissing) {
			t.Fatalf("%q: no field, got %q, %v", body, got, err)
		}
	case len(vals) > 1:
		if !errors.Is(err, errFieldTwice) {
			t.Fatalf("%q: twice, got %q, %v", body, got, err)
		}
	default:
		var s string
		if json.Unmarshal(vals[0], &s) != nil {
			if !errors.Is(err, errFieldNotString) {
				t.Fatalf("%q: not a string, got %q, %v", body, got, err)
			}
			return
		}
		if err != nil || string(bytes.Runes(got)) != s { // encoding/json makes each invalid byte U+FFFD
			t.Fatalf("%q: got %q, %v; encoding/json reads %q", body, got, err, s)
		}
	}
}

// depth is the deepest nesting of a valid JSON text.
func depth(body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	d, most := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return most
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			d++
			most = max(most, d)
		case json.Delim('}'), json.Delim(']'):
			d--
		}
	}
}

func checkForm(t *testing.T, body, got []byte, err error) {
	q, e := url.ParseQuery(string(body))
	if e != nil {
		return // net/url refuses what a lenient upstream may read: only the field is compared
	}
	switch vs := q["from"]; {
	case len(vs) == 0:
		if !errors.Is(err, errFieldMissing) {
			t.Fatalf("%q: no field, got %q, %v", body, got, err)
		}
	case len(vs) > 1:
		if !errors.Is(err, errFieldTwice) {
			t.Fatalf("%q: twice, got %q, %v", body, got, err)
		}
	default:
		if err != nil || string(got) != vs[0] {
			t.Fatalf("%q: got %q, %v; net/url reads %q", body, got, err, vs[0])
		}
	}
}
