package balance_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/config"
)

// TestDefaultsAreConfigs: the store has no defaults of its own. An option left zero takes
// config's default, so a store opened with a zero Options runs as the default configuration.
func TestDefaultsAreConfigs(t *testing.T) {
	def := config.Default().Store
	s, err := balance.Open(context.Background(), balance.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := s.Client().(*redis.Client).Options()
	if o.DialTimeout != def.DialTimeout.Std() || o.ReadTimeout != def.ReadTimeout.Std() || o.WriteTimeout != def.WriteTimeout.Std() {
		t.Errorf("timeouts dial %v read %v write %v, config's %v %v %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout,
			def.DialTimeout, def.ReadTimeout, def.WriteTimeout)
	}
	ttl := config.Default().Limits.RefundMarkerTTL.Std()
	if s.MarkerTTL() != ttl {
		t.Errorf("marker TTL %v, config's %v", s.MarkerTTL(), ttl)
	}
	if got := balance.NewFromClient(s.Client()).MarkerTTL(); got != ttl {
		t.Errorf("NewFromClient: marker TTL %v, config's %v", got, ttl)
	}
}
