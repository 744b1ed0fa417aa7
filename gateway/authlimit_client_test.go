package gateway

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestAuthLimiterClientReadsEveryXFFLine: X-Forwarded-For sent as several lines is one list
// (as forwarding reads it), so the auth-failure limit counts against the nearest untrusted
// address in the last line, not in the first.
func TestAuthLimiterClientReadsEveryXFFLine(t *testing.T) {
	l := NewAuthLimiter(AuthLimitOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"one line", []string{"198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"two lines", []string{"198.51.100.1", "203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"trusted hops across lines", []string{"198.51.100.1", "10.0.0.3", "10.0.0.2"}, "198.51.100.1"},
		{"empty last line", []string{"198.51.100.1", " "}, "198.51.100.1"},
		{"malformed ends the walk", []string{"198.51.100.1", "junk, 10.0.0.2"}, "10.0.0.2"},
	} {
		var req fasthttp.Request
		for _, v := range tc.lines {
			req.Header.Add("X-Forwarded-For", v)
		}
		var rc fasthttp.RequestCtx
		rc.Init(&req, &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1234}, nil)
		if got := l.Client(&rc); got.String() != tc.want {
			t.Errorf("%s: client %v, want %s", tc.name, got, tc.want)
		}
	}
}
