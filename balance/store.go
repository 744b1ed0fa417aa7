// Package balance holds money and the store: the Redis key layout and how records are
// encoded in it, the Lua scripts that move money and admit requests, and the embedded store
// used when no Redis is configured. The records themselves (Amount, Account, Permission) are
// package model's; no other package knows a key or a hash field name.
//
// Contracts:
//   - Every multi-key script touches the keys of one account tree only, all under the root's
//     hash tag (see keys.go), so it runs in one Redis Cluster slot.
//   - Money never exists outside an integer in the store; every script checks its bounds
//     (MaxAmount, the account's credit floor) before it writes, and writes nothing on refusal.
//   - A *Store is safe for concurrent use; Close releases the client and, for the embedded
//     store, persists its data.
//   - Errors of decisions are the sentinel errors in errors.go; anything else is a store
//     failure (wrapped, test with IsUnavailable).
//
// The import direction is balance → policy/model and config (config for the defaults of
// Options, nothing else); policy uses model, not balance; main maps a config.Config to
// Options.
package balance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/config"
)

// Options selects and tunes the store. Exactly one of Redis, Cluster or SentinelMaster may be
// set; none of them selects the embedded store persisted under DataDir.
type Options struct {
	Redis          string   // "redis://host:port/db", "rediss://…", "unix:///path?db=N"; "" = not a single Redis
	Cluster        []string // seed nodes "host:port" of a Redis Cluster
	SentinelMaster string   // master name for Sentinel
	SentinelAddrs  []string // sentinel "host:port" addresses
	DataDir        string   // where the embedded store persists; "" = memory only

	// Zero timeouts take config's defaults (config.DefaultDialTimeout, …): the read timeout
	// is short, so that a store that does not answer is unavailable quickly.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	PoolSize     int // 0 = go-redis default (10 per CPU), as store.pool_size: 0

	// NoAdmitBatching sends every admit as its own script call instead of deciding the
	// admits that are in flight together in one (see batch.go). Default false: batching on.
	NoAdmitBatching bool
	// MarkerTTL is how long the refund marker of an admitted request lives
	// (limits.refund_marker_ttl; 0 = config.DefaultRefundMarkerTTL): a refund, a settlement
	// or the check of a lost admit answer must come within this time (they come within
	// seconds; the rest is for reconciling by hand). Markers cost about 60 bytes of store
	// memory each for that long.
	MarkerTTL time.Duration
	// HoldRetention is how long an ended hold stays readable and its Settle replayable
	// (limits.hold_retention; 0 = config.DefaultHoldRetention).
	HoldRetention time.Duration
}

// Store is the gateway's handle on Redis (or the embedded store).
type Store struct {
	rdb       redis.UniversalClient
	emb       *embedded     // nil unless embedded
	batch     *admitBatcher // nil when admit batching is off
	cluster   bool          // a Redis Cluster: markers live in each tree's slot (markerHashPrefix)
	markerTTL time.Duration
	// holdRetention: how long an ended hold is kept (Options.HoldRetention)
	holdRetention time.Duration
	holdMetrics   *holdMetrics  // nil until Instrument
	timeout       time.Duration // an admit's wait (ReadTimeout); 0 = the client's socket timeouts only
	// the bounds of a claim on a number's index entry (numberClaimRun, numberClaimOrphan)
	claimRun, claimOrphan time.Duration
}

// Open connects to the store the options select. For the embedded store it loads the last
// snapshot from DataDir and starts it on a loopback port.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.DialTimeout == 0 {
		o.DialTimeout = config.DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = config.DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = config.DefaultWriteTimeout
	}
	s := &Store{markerTTL: o.MarkerTTL, timeout: o.ReadTimeout, claimRun: numberClaimRun, claimOrphan: numberClaimOrphan}
	s.markerTTL = config.Or(s.markerTTL, config.DefaultRefundMarkerTTL)
	s.holdRetention = config.Or(o.HoldRetention, config.DefaultHoldRetention)
	uo := &redis.UniversalOptions{
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.ReadTimeout,
		WriteTimeout: o.WriteTimeout,
		PoolSize:     o.PoolSize,
		// No retries: go-redis would resend a script whose answer was lost (a read timeout,
		// a reset), and a script that ran twice moves money twice. A failed call is an
		// error for the caller, who knows what is safe to do (see gateway's compensate).
		MaxRetries: -1,
		// A context's deadline bounds the socket reads and writes too, not only the wait
		// for a connection: an admit's deadline (batch.go) ends a call stuck on a stalled
		// store.
		ContextTimeoutEnabled: true,
	}
	switch {
	case len(o.Cluster) > 0:
		uo.Addrs = o.Cluster
		uo.IsClusterMode = true
	case o.SentinelMaster != "":
		uo.MasterName = o.SentinelMaster
		uo.Addrs = o.SentinelAddrs
	case o.Redis != "":
		ro, err := redis.ParseURL(o.Redis)
		if err != nil {
			return nil, fmt.Errorf("store.redis: %w", err)
		}
		uo.Addrs = []string{ro.Addr}
		uo.DB = ro.DB
		uo.Username, uo.Password = ro.Username, ro.Password
		uo.TLSConfig = ro.TLSConfig
		// unix:///path/redis.sock: Addr is the socket's path, which go-redis dials as a Unix
		// socket (an address starting with "/").
	default:
		emb, err := startEmbedded(o.DataDir)
		if err != nil {
			return nil, err
		}
		s.emb = emb
		uo.Addrs = []string{emb.addr()}
		uo.Password = emb.pw
		uo.Protocol = 2
	}
	s.rdb = redis.NewUniversalClient(uo)
	_, s.cluster = s.rdb.(*redis.ClusterClient)
	if err := s.Ping(ctx); err != nil && s.emb != nil {
		s.Close()
		return nil, err
	}
	if !o.NoAdmitBatching {
		s.batch = newAdmitBatcher(s.rdb, s.timeout, s.markerTTL, s.holdRetention)
	}
	return s, nil
}

// Client returns the underlying client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Embedded reports whether this is the embedded store.
func (s *Store) Embedded() bool { return s.emb != nil }

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Snapshot persists the embedded store now; it is a no-op for Redis.
func (s *Store) Snapshot() error {
	if s.emb == nil {
		return nil
	}
	return s.emb.snapshot()
}

// Close closes the client and, for the embedded store, writes a final snapshot and stops it.
// Call it after the listeners have stopped, so the snapshot holds every completed request.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	err := s.rdb.Close()
	if s.emb != nil {
		if e := s.emb.close(); e != nil {
			err = e
		}
	}
	return err
}

// ErrUnavailable wraps every failure to reach the store (connection refused, timeout, no
// primary). Callers answer 503 STORE_UNAVAILABLE; nothing was charged.
var ErrUnavailable = errors.New("store unavailable")

func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// MaybeRan reports whether a failed store call may nevertheless have run in the store: the
// command was (or may have been) sent and its answer was lost — a read timeout, a reset, a
// connection closed under it. It is false when the call certainly did not run: a dial
// error, no free connection, a closed client, an admit whose deadline passed before it was
// sent, or an error reply from Redis (a script that answers an error has written nothing;
// the store refused or failed it).
func MaybeRan(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, errQueueTimeout) {
		return false
	}
	var re redis.Error
	return !errors.As(err, &re)
}

// storeErr classifies an error from go-redis: network errors, timeouts, cluster-down and
// no-primary replies become ErrUnavailable; redis.Nil and script errors pass through.
func storeErr(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, redis.ErrClosed) || isDownReply(err.Error()) {
		return unavailable(err)
	}
	if _, ok := err.(redis.Error); !ok {
		// io.EOF, connection reset, pool timeouts and the like.
		return unavailable(err)
	}
	return err
}

func isDownReply(msg string) bool {
	for _, p := range []string{"CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN", "NOREPLICAS", "OOM"} {
		if len(msg) >= len(p) && msg[:len(p)] == p {
			return true
		}
	}
	return false
}
