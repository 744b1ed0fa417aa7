package testkit

import (
	"context"
	"testing"

	"github.com/tenantgw/gateway/balance"
)

// OpenStore opens a store with o, closed when the test ends.
func OpenStore(t testing.TB, o balance.Options) *balance.Store {
	t.Helper()
	s, err := balance.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
