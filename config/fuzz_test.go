package config

import (
	"os"
	"path/filepath"
	"testing"
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
