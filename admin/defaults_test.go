package admin

import (
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/config"
)

// TestDefaultsAreConfigs: the API has no defaults of its own. An option left zero that
// config never leaves zero takes config's default.
func TestDefaultsAreConfigs(t *testing.T) {
	def := config.Default()
	o := New(Options{}).o
	if o.RateLimit != def.Defaults.RateLimit || o.MaxSubaccounts != def.Defaults.MaxSubaccounts || o.MaxDepth != def.Defaults.MaxDepth ||
		o.ClosedRetention != def.Defaults.ClosedRetention.Std() || o.MaxBodyBytes != def.Limits.MaxBodyBytes {
		t.Errorf("defaults %+v, config's %+v and max_body_bytes %d", o, def.Defaults, def.Limits.MaxBodyBytes)
	}
}

// TestTokenGraceAsConfigured: token_grace: 0 is a valid setting ("0 revokes it at once"), and
// the API takes it as it is: a rotation that does not say its grace revokes the old token at
// once. (A zero TokenGrace used to become 24h.)
func TestTokenGraceAsConfigured(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, func(o *Options) { o.TokenGrace = 0 })
		m := e.main("")
		mc := m.cred()
		c := e.child(m, "")
		old := testkit.Cred{ID: c.id, Token: c.tok}
		r := e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/" + c.id + "/Token/", Cred: &mc}).JSON(t)
		if r["previous_token_expires_at"] != nil {
			t.Errorf("rotation with token_grace 0: previous token expires at %v, want at once", r["previous_token_expires_at"])
		}
		e.must(401, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/", Cred: &old})
		nw := testkit.Cred{ID: c.id, Token: r["auth_token"].(string)}
		e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/", Cred: &nw})
	})
}
