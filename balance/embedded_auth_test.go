package balance

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestEmbeddedStoreNeedsItsPassword: the embedded store's loopback port refuses clients
// that do not know its random password, so other local users cannot touch balances.
func TestEmbeddedStoreNeedsItsPassword(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("the store itself: %v", err)
	}
	stranger := redis.NewClient(&redis.Options{Addr: s.emb.addr(), Protocol: 2})
	defer stranger.Close()
	err = stranger.Set(ctx, "x", "1", 0).Err()
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("a client without the password: %v; want NOAUTH", err)
	}
}
