package gateway

import "github.com/tenantgw/gateway/balance"

// Cache coherence across gateway instances (see balance/invalidate.go for the transport).
//
// What the account cache holds can only go stale in one direction that matters to users: a
// new token (after a rotation made through another instance) is refused until the entry is
// dropped or re-read. Nothing stale can admit what the store refuses, because the admit
// script re-checks status and the token hash. An instance drops a stale entry:
//   - at once, when its own management API made the change (admin calls Invalidate);
//   - within milliseconds, when another instance made it and published it
//     (balance.Store.PublishInvalidation → SubscribeInvalidations → ApplyInvalidation);
//   - at the latest Options.RefreshAfter after the entry was read, when pub/sub is down: a
//     token that does not match an entry older than that re-reads the account.

// InvalidateAll drops everything this instance caches about accounts. A load that raced it
// is not cached (the generation check in the cache).
func (g *Gateway) InvalidateAll() {
	g.cache.gen.Add(1)
	g.cache.c.Clear()
	g.cache.gen.Add(1)
}

// ApplyInvalidation is the callback for balance.Store.SubscribeInvalidations: it drops one
// account, or everything for balance.AllAccounts (a subscription was (re)established, so
// messages may have been missed).
func (g *Gateway) ApplyInvalidation(id string) {
	if id == balance.AllAccounts {
		g.InvalidateAll()
		return
	}
	g.Invalidate(id)
}
