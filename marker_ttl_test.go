package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance/redistest"
)

// TestRefundMarkerTTLSetting: limits.refund_marker_ttl reaches the store: after a proxied
// request through `gateway serve`, the request's refund marker expires in about the
// configured time (3h here), not the default.
func TestRefundMarkerTTLSetting(t *testing.T) {
	addr := redistest.Start(t)
	bin := scBuild(t)
	in := scStart(t, bin, "ttl", map[string]string{
		"GATEWAY_STORE_REDIS":              "redis://" + addr + "/0",
		"GATEWAY_LIMITS_REFUND_MARKER_TTL": "3h",
	})
	main := scNewMain(t, in, 100, "1.00")
	scMust(t, 202, "POST", in.public+"/v1/Account/"+main.id+"/Message/", main, "", map[string]any{"src": "1", "dst": "2", "text": "x"})

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "rf:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("marker hashes %v %v", keys, err)
	}
	ttl := rdb.PTTL(ctx, keys[0]).Val()
	if ttl <= 3*time.Hour-time.Minute || ttl > 3*time.Hour {
		t.Errorf("%s expires in %v, want about 3h", keys[0], ttl)
	}
}
