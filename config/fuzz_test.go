package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantgw/gateway/policy/model"
)

// FuzzLoadYAML feeds Load arbitrary files: it must never panic, and what it
// accepts must be valid.
func FuzzLoadYAML(f *testing.F) {
	for _, seed := range []string{
		apiExample,
		"",
		"listen: \":8080\"\n",
		"listn: x\n",
		"routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: 1e3}]\n",
		"upstreams: {voice: &u {url: \"http://v\", timeout: 5s}, sms: {<<: *u, url: \"http://s\"}}\n",
		"upstreams: &a {<<: *a}\n",
		"a: &a [*a, *a]\nb: &b [*a, *a]\n",
		"store: {cluster: &c [*c]}\n",
		"- 1\n- 2\n",
		"---\n---\n",
		"defaults: {rate_limit: 0x10, token_grace: 1h1m1s}\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a configuration that Validate refuses: %v", err)
		}
	})
}

// FuzzMoney pins the one money grammar: a price config accepts is one model.ParseAmount
// reads (so compiling the routes never fails on it), not negative, below 10^9 units, and
// written back the same way by Amount.String up to trailing zeros.
func FuzzMoney(f *testing.F) {
	for _, s := range []string{"0", "0.0100", "25.50", "999999999.999999", "1234567890", "-1", "+1", "1e3", "0.0000001", "0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Money(s).check() != nil {
			return
		}
		a, err := model.ParseAmount(s)
		if err != nil || a < 0 || a >= 1_000_000_000*model.MicrosPerUnit {
			t.Fatalf("config accepts %q, ParseAmount reads %d, %v", s, a, err)
		}
		if b, err := model.ParseAmount(a.String()); err != nil || b != a {
			t.Fatalf("%q: %d formats as %q", s, a, a.String())
		}
	})
}
