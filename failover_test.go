package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/policy/model"
)

// TestSentinelFailover: a gateway on a Sentinel-managed primary (one replica, three
// Sentinels) under load; the primary is killed. While there is no primary every answer is
// 503 STORE_UNAVAILABLE (never a 2xx without its charge); the gateway recovers by itself;
// afterwards initial credit − final balance == the sum of X-Charge of the 2xx answers, to
// the micro-unit.
//
// Redis replication is asynchronous: a write the primary acknowledged in its last moments
// may never reach the replica, and a failover then loses it (an admitted request whose
// debit is gone, or a credit). No gateway-side check can see that loss, so the test does not
// pretend to survive it: just before the kill it stops writes on the primary (CLIENT PAUSE
// WRITE; the requests in flight hang there and die with the primary, uncharged) and waits
// until the replica has every acknowledged write. What is tested is the gateway's part:
// refuse with 503 while there is no primary, never admit without a charge, follow the
// failover. The README ("Scaling out") tells users how to bound the replication loss (min-replicas-to-write,
// min-replicas-max-lag) and that it cannot be made zero with Redis replication alone.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, starts Redis with Sentinels")
	}
	bin := scBuild(t)
	master, primary, replica, sentinels, kill := redistest.StartSentinel(t)
	ctx := context.Background()
	pc := redis.NewClient(&redis.Options{Addr: primary, MaxRetries: -1})
	defer pc.Close()
	rc := redis.NewClient(&redis.Options{Addr: replica})
	defer rc.Close()
	// What the README recommends: refuse writes when the replica lags (bounds the loss).
	for _, kv := range [][2]string{{"min-replicas-to-write", "1"}, {"min-replicas-max-lag", "10"}} {
		if err := pc.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}

	gw := scStart(t, bin, "gw-sentinel", map[string]string{
		"GATEWAY_STORE_SENTINEL_MASTER": master,
		"GATEWAY_STORE_SENTINEL_ADDRS":  strings.Join(sentinels, ","),
	})
	const credit = "1000.00"
	m := scNewMain(t, gw, 1000000, credit)
	sub := scNewSub(t, gw, m, 1000000)
	src := scNumber(t, gw, m, sub)
	initial := scBalance(t, gw, m)
	price, _ := model.ParseAmount("0.005") // a message (a call's money moves again when it ends)

	type tally struct {
		ok, unavailable int
		charged         model.Amount
		other           []string
		lastOK          time.Time
	}
	var (
		mu       sync.Mutex
		total    tally
		killedAt time.Time // zero until the primary is dead
		firstOK  time.Time // first 2xx after the kill
		outage   tally     // answers between the kill and the first 2xx after it
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := scSend(t, "POST", scSMSURL(gw, sub.id), sub, "", scSMS(src))
				now := time.Now()
				mu.Lock()
				dead := !killedAt.IsZero() && firstOK.IsZero()
				switch {
				case err != nil:
					total.other = append(total.other, "transport: "+err.Error())
				case r.status/100 == 2:
					c := scCharge(t, r)
					if c != price {
						total.other = append(total.other, fmt.Sprintf("2xx with X-Charge %v", c))
					}
					total.ok++
					total.charged += c
					total.lastOK = now
					if dead {
						firstOK = now
					}
				case r.status == 503 && r.code == "STORE_UNAVAILABLE":
					total.unavailable++
					if dead {
						outage.unavailable++
					}
				default:
					total.other = append(total.other, fmt.Sprintf("%d %s", r.status, r.body))
				}
				mu.Unlock()
				if err != nil || r.status/100 != 2 {
					time.Sleep(5 * time.Millisecond) // no busy loop while the store is down
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	// Steady load for a moment.
	waitUntil(t, 10*time.Second, "first admitted requests", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return total.ok >= 50
	})

	// Quiesce writes, let the replica catch up, kill the primary.
	if err := pc.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	offset := replOffset(t, pc, "master_repl_offset")
	waitUntil(t, 10*time.Second, "replica caught up", func() bool { return replOffset(t, rc, "slave_repl_offset") >= offset })
	mu.Lock()
	before := total.ok
	mu.Unlock()
	kill(primary)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	// While there is no primary (Sentinel needs down-after-milliseconds, 1 s, before it even
	// starts a failover), a request is refused with 503 and charges nothing. Probe it
	// directly, so the check does not depend on how the load's requests happen to fall.
	if r, err := scSend(t, "POST", scSMSURL(gw, sub.id), sub, "", scSMS(src)); err != nil ||
		r.status != 503 || r.code != "STORE_UNAVAILABLE" {
		t.Fatalf("a request right after the primary died: %v %+v; want 503 STORE_UNAVAILABLE", err, r)
	}

	// It recovers by itself.
	waitUntil(t, 30*time.Second, "a 2xx after the failover", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !firstOK.IsZero()
	})
	mu.Lock()
	recovered := firstOK.Sub(killedAt)
	mu.Unlock()
	// A little more load on the new primary, then stop.
	waitUntil(t, 10*time.Second, "load on the new primary", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return total.ok >= before+50
	})
	stopLoad()

	final := scBalance(t, gw, m)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d admitted, %d answered 503 (%d between the kill and recovery); recovered %v after the kill",
		total.ok, total.unavailable, outage.unavailable, recovered.Round(time.Millisecond))
	if len(total.other) > 0 {
		n := min(len(total.other), 10)
		t.Fatalf("%d answers neither 2xx with the price nor 503 STORE_UNAVAILABLE, e.g.:\n%s", len(total.other), strings.Join(total.other[:n], "\n"))
	}
	if got := initial - final; got != total.charged {
		t.Fatalf("books: initial %v − final %v = %v, but the 2xx answers carried X-Charge %v in all (%d × %v)",
			initial, final, got, total.charged, total.ok, price)
	}
}

// replOffset reads a replication offset field of INFO replication.
func replOffset(t *testing.T, c *redis.Client, field string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in INFO replication:\n%s", field, info)
	return 0
}

// waitUntil polls cond until it holds; after within the test fails, naming what.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
