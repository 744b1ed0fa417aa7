package wire

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestRequestIDsAreRandom: made request ids share no structure — no per-process prefix, no
// counter — so they reveal neither traffic volume nor the instance; they are 32 hex digits.
func TestRequestIDsAreRandom(t *testing.T) {
	const n = 4000
	ids := make([]string, n)
	heads := make(map[string]bool, n)
	for i := range ids {
		ids[i] = string(AppendRequestID(nil))
		// Random ids share a 12-character (48-bit) head with chance about n²/2⁴⁹ ≈ 3e-8.
		head := ids[i][:12]
		if heads[head] {
			t.Fatalf("ids %q and an earlier one start alike: not random", ids[i])
		}
		heads[head] = true
	}
	seen := make(map[string]bool, n)
	for _, id := range ids {
		if len(id) != 32 || !SaneRequestID([]byte(id)) {
			t.Fatalf("id %q: want 32 hex digits", id)
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("id %q: want 32 hex digits", id)
			}
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
	// Every digit turns up in every position (a counter's high digits would not).
	for pos := range 32 {
		digits := map[byte]bool{}
		for _, id := range ids {
			digits[id[pos]] = true
		}
		if len(digits) != 16 {
			t.Errorf("position %d takes %d of 16 digits", pos, len(digits))
		}
	}
}

func TestRequestIDAllocs(t *testing.T) {
	buf := make([]byte, 0, 32)
	if n := testing.AllocsPerRun(100, func() { buf = AppendRequestID(buf[:0]) }); n != 0 {
		t.Errorf("AppendRequestID allocates %v", n)
	}
}

// TestPickRequestID: the client's X-Request-ID when it is sane, else a new one.
func TestPickRequestID(t *testing.T) {
	cases := []struct {
		sent string // "" sends none
		keep bool
	}{
		{"", false},
		{"abc-123", true},
		{"a.b_c:D-9", true},
		{strings.Repeat("r", 128), true},
		{strings.Repeat("r", 129), false},
		{"has space", false},
		{"semi;colon", false},
		{"ünï", false},
	}
	for _, c := range cases {
		var h fasthttp.RequestHeader
		if c.sent != "" {
			h.Set(HeaderRequestID, c.sent)
		}
		id, made := PickRequestID([]byte("x"), &h)
		if made == c.keep {
			t.Errorf("%q: made %v", c.sent, made)
		}
		switch {
		case c.keep && string(id) != "x"+c.sent:
			t.Errorf("%q: kept as %q", c.sent, id)
		case !c.keep && (len(id) != 33 || id[0] != 'x' || !SaneRequestID(id[1:])):
			t.Errorf("%q: made %q, want 32 hex digits appended", c.sent, id)
		}
	}
}

func TestPickRequestIDAllocs(t *testing.T) {
	buf := make([]byte, 0, 128)
	for _, sent := range []string{"", "abc-123", "bad id"} {
		var h fasthttp.RequestHeader
		if sent != "" {
			h.Set(HeaderRequestID, sent)
		}
		if n := testing.AllocsPerRun(100, func() { buf, _ = PickRequestID(buf[:0], &h) }); n != 0 {
			t.Errorf("PickRequestID(%q) allocates %v", sent, n)
		}
	}
}
