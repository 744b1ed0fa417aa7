package redistest

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStart(t *testing.T) {
	t.Parallel()
	addr := Start(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	// Nothing is persisted: the server runs with --save "" and --appendonly no.
	cfg, err := c.ConfigGet(ctx, "appendonly").Result()
	if err != nil || cfg["appendonly"] != "no" {
		t.Fatalf("CONFIG GET appendonly = %v, %v", cfg, err)
	}
}

func TestStartCluster(t *testing.T) {
	t.Parallel()
	addrs := StartCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("StartCluster returned %d addresses, want 3", len(addrs))
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx := context.Background()

	// Keys in different slots, so that every master takes some.
	slots := map[int64]bool{}
	for i := range 30 {
		k := "key:" + strconv.Itoa(i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		slot, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", k, err)
		}
		slots[slot] = true
	}
	if len(slots) < 2 {
		t.Fatalf("keys landed in %d slot(s), want several", len(slots))
	}
	for i := range 30 {
		k := "key:" + strconv.Itoa(i)
		if got, err := c.Get(ctx, k).Int(); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v; want %d", k, got, err, i)
		}
	}
	// Hash-tagged keys share a slot, so a multi-key command on them works.
	if err := c.MSet(ctx, "{MA_X}:a", 1, "{MA_X}:b", 2).Err(); err != nil {
		t.Fatalf("MSET with one hash tag: %v", err)
	}
	// Every master holds some of the keys.
	var holders atomic.Int32 // ForEachMaster calls concurrently
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			holders.Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ForEachMaster: %v", err)
	}
	if n := holders.Load(); n != 3 {
		t.Fatalf("%d masters hold keys, want 3", n)
	}
}

func TestStartSentinel(t *testing.T) {
	t.Parallel()
	master, primary, replica, sentinels, kill := StartSentinel(t)
	if master != "gwmaster" || len(sentinels) != 3 || primary == replica {
		t.Fatalf("StartSentinel = %q, %s, %s, %v", master, primary, replica, sentinels)
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    master,
		SentinelAddrs: sentinels,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    -1,
	})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatalf("SET through sentinel: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "before" {
		t.Fatalf("GET = %q, %v; want before", got, err)
	}

	kill(primary)

	// Within ~20 s the Sentinels promote the replica and writes succeed again, on it.
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for i := 0; ; i++ {
		opCtx, cancel := context.WithTimeout(ctx, time.Second)
		lastErr = c.Set(opCtx, "k", fmt.Sprint("after", i), 0).Err()
		cancel()
		if lastErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful write 20s after killing the primary: %v", lastErr)
		}
		<-tick.C
	}
	// Every Sentinel comes to name the replica as the master (the one the client asked may
	// have learnt it a moment before the others: they gossip).
	for _, addr := range sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
		for {
			got, err := sc.GetMasterAddrByName(ctx, master).Result()
			if err == nil && len(got) == 2 && got[0]+":"+got[1] == replica {
				break
			}
			if time.Now().After(deadline.Add(10 * time.Second)) {
				sc.Close()
				t.Fatalf("sentinel %s: master after failover = %v, %v; want %s", addr, got, err, replica)
			}
			<-tick.C
		}
		sc.Close()
	}
	// The write landed on the promoted replica itself.
	rc := redis.NewClient(&redis.Options{Addr: replica})
	defer rc.Close()
	if v, err := rc.Get(ctx, "k").Result(); err != nil || len(v) < 5 || v[:5] != "after" {
		t.Fatalf("GET k on the promoted replica = %q, %v", v, err)
	}
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil || infoField(info, "role") != "master" {
		t.Fatalf("promoted replica role = %q, %v", infoField(info, "role"), err)
	}
}

func TestFreePortWithBus(t *testing.T) {
	t.Parallel()
	// The cluster variant keeps the bus port (port+10000) in range.
	for range 20 {
		if p := freePort(t, true); p+10000 > 65535 {
			t.Fatalf("freePort(bus) = %d, bus port out of range", p)
		}
	}
}
