package balance

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/policy/model"
)

// Reason says why the admit script refused a request: the code the script answers, which
// balance/lua/admit.lua names at its top. What a refusal looks like on the wire and in the
// metrics (status, code, message, label) is its row in the refusal table, keyed by Reason
// (policy/wire.Refusals); a test pins the Lua codes to that table.
type Reason uint8

// Reasons, as the admit script answers them (its first element).
const (
	Admitted           Reason = iota
	ReasonCredentials         // the caller is unknown, closed, or the token is not live (401)
	ReasonGone                // an account of the chain does not exist or is closed (403 FORBIDDEN)
	ReasonSuspended           // an account of the chain is not active; AuthID names the topmost
	ReasonPermission          // the route's permission flag is off; AuthID names the topmost
	ReasonKYC                 // KYC-gated route while a customer_use account is not verified
	ReasonRateLimited         // a rate limit of the chain is exhausted; AuthID, Limit, RetryAfter
	ReasonInsufficient        // the billing account cannot pay; AuthID, Available
	// ReasonWithdrawn: the request's marker already exists — a refund ran before this admit
	// and left a tombstone (the gateway gave the request up as a 503 and checked it for a
	// charge), or the id was admitted before. Nothing was taken; the gateway answers 503.
	ReasonWithdrawn
	ReasonNumberNotOwned // the route's caller-ID number is not the path account's (403 NUMBER_NOT_OWNED)
	// ReasonCPS: a call route, over calls_per_second of an account of the chain; AuthID,
	// Limit, Reset (the retry-after).
	ReasonCPS
	// ReasonConcurrency: a call route, an account of the chain has max_concurrent_calls
	// calls open; AuthID, Limit, Remaining (its open calls).
	ReasonConcurrency
	reasonCount // codes from here on are not the script's: an unexpected answer
)

// AdmitRequest is one proxied request as the admit script sees it. The gateway keeps one per
// in-flight request and reuses it; Store.Admit neither retains it nor its slices.
type AdmitRequest struct {
	// Keys are AdmitKeys(root, pathID, pathChain): the account keys of the path account's
	// chain (path account first, root last) and then its usage key. Immutable per account,
	// so callers cache them.
	Keys []string
	// CallerPos is the caller's index in the chain (0 = the path account itself).
	CallerPos int
	// TokenHash is the hex SHA-256 of the token the caller presented (64 bytes); the script
	// checks it against the account's live tokens, so a rotation or close made through any
	// instance is honoured even when a cache is stale.
	TokenHash []byte
	// Permission is the flag the route needs (model.PermCalls…), model.PermNone for none.
	Permission model.Permission
	// KYC is true for a KYC-gated route.
	KYC bool
	// Price is debited from the billing account (µ, >= 0).
	Price model.Amount
	// Route is the route's name, used in the usage counters (must not contain '|').
	Route string
	// RequestID keys the refund marker; unique per request within the tree.
	RequestID []byte
	// CallerID is the number (E.164) the request comes from, read from the route's caller-ID
	// field: the path account must own it (ReasonNumberNotOwned otherwise). Empty: the
	// route checks no caller-ID.
	CallerID []byte
	// Call is set for a call route (API.md §8): the admit then also opens the call's hold.
	Call *CallRequest
	// PathPays is a hint: the path account keeps its own balance (model.Account.Own as the
	// caller last read it). The script reads the money of the roots and of a hinted path
	// account with their other fields, and of any other account once it finds that it pays
	// for a request: a wrong hint costs a read or three fields, never a wrong decision.
	PathPays bool
}

// CallRequest is the call part of the admit of a call route. The gateway makes one per call
// (HoldID is new each time); Spec is the route's, built once.
type CallRequest struct {
	HoldID string // "HL_" + 20 characters of [A-Z0-9]
	Spec   *CallSpec
}

// CallSpec is a call route's call block (config.Call) in the store's terms, built once per
// route at start-up by NewCallSpec: durations in whole seconds. Read-only once built.
type CallSpec struct {
	Tariff             model.Tariff
	Grant, Max, Min    int64 // seconds
	RingTimeout, Grace int64 // seconds
	Commit             bool  // on_expiry: commit (else release)
	Upstream           string
	argTail            string // the spec part of the script's call argument
}

// lifetime is the longest a hold of the route can live: ring_timeout, max_duration and
// expiry_grace.
func (s *CallSpec) lifetime() time.Duration {
	return time.Duration(s.RingTimeout+s.Max+s.Grace) * time.Second
}

// NewCallSpec returns s ready for use by any number of admits.
func NewCallSpec(s CallSpec) *CallSpec {
	t, onexp := s.Tariff, "r"
	if s.Commit {
		onexp = "c"
	}
	s.argTail = fmt.Sprintf(" %d %d %d %d %d %d %d %d %d %s %s", t.Rate, t.First, t.Next, t.ConnectFee,
		s.Grant, s.Max, s.Min, s.RingTimeout, s.Grace, onexp, s.Upstream)
	return &s
}

// callArg is the admit script's call argument (call.lua): the hold id, then the spec.
func (c *CallRequest) callArg() string { return c.HoldID + c.Spec.argTail }

// Decision is the admit script's answer, a value type the caller owns and may reuse.
type Decision struct {
	Admitted bool
	Reason   Reason
	// AuthID is the account that caused a refusal ("" when admitted).
	AuthID string
	// Charge is what was debited (the route's price when admitted, else 0).
	Charge model.Amount
	// BillingID is the account that paid (admitted) or could not pay (ReasonInsufficient).
	BillingID string
	// Limit is the rate limit (requests per second) of the tightest account of the chain when
	// admitted, or of the account that refused (ReasonRateLimited); 0 when none applies.
	Limit int
	// Remaining is what is left of Limit after this request.
	Remaining int
	// Reset is how long until the tightest limit is full again (admitted), or the wait until a
	// retry can succeed (ReasonRateLimited, i.e. Retry-After).
	Reset time.Duration
	// Available is balance + credit_limit of the billing account (ReasonInsufficient).
	Available model.Amount
	// Price echoes the price asked for (for ReasonInsufficient's "required"); for a call
	// route, the price plus the cost of its min_duration.
	Price model.Amount
	// Granted is, for an admitted call, the seconds its hold grants (X-Call-Max-Duration).
	Granted int64
}

// Admitter is the seam of the admit call: one request in, one decision out. The Store batches
// behind it (see batch.go).
type Admitter interface {
	Admit(ctx context.Context, req *AdmitRequest, dec *Decision) error
}

var _ Admitter = (*Store)(nil)

// AdmitKeys returns the keys of an AdmitRequest for the account id of tree root whose
// ancestors (parent first, root last) are chain.
func AdmitKeys(root, id string, chain []string) []string {
	keys := make([]string, 0, len(chain)+2)
	keys = append(keys, accountKey(root, id))
	for _, a := range chain {
		keys = append(keys, accountKey(root, a))
	}
	return append(keys, UsageKey(root, id))
}

// Admit decides req in one atomic step of the admit script and fills dec: alone, or together
// with the other admits in flight in one script call (batching, see batch.go), which decides
// each exactly as if it ran alone. A refusal is not an error: dec.Admitted is false and
// dec.Reason says why. The error is a store failure (ErrUnavailable when the store cannot be
// reached: nothing was charged; MaybeRan tells when it may have been) or a malformed answer.
// The answer comes within the store's ReadTimeout, however stalled the store or long the
// queue of admits before this one (see batch.go). A batched admit does not consult ctx (a
// batch has one deadline for all its admits); an unbatched one honours it too.
// Keys and TokenHash of consecutive requests are compared by identity to send repeats
// compactly, so callers should reuse one Keys slice per account (AdmitKeys, cached).
func (s *Store) Admit(ctx context.Context, req *AdmitRequest, dec *Decision) error {
	if len(req.Keys) < 2 || req.CallerPos < 0 || req.CallerPos >= len(req.Keys)-1 || !req.Permission.Valid() {
		return fmt.Errorf("admit: bad request (keys %d, caller %d, permission %d)", len(req.Keys), req.CallerPos, req.Permission)
	}
	if req.Call != nil {
		defer func() {
			if dec.Admitted {
				s.holdEvent(req.Route, "opened")
			}
		}()
	}
	if s.batch != nil {
		return s.batch.admit(req, dec)
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	return admitOne(ctx, s.rdb, s.markerTTL, s.holdRetention, s.cluster, req, dec)
}

// admitOne runs the admit script for one request in its own round trip.
func admitOne(ctx context.Context, rdb redis.UniversalClient, ttl, retention time.Duration, cluster bool, req *AdmitRequest, dec *Decision) error {
	c := admitCall{req: req, dec: dec}
	tag := hashTag(req.Keys[0])
	g := admitGroup{ttl: ttl, markers: markerHashPrefix(cluster, tag), tombs: tombsKey(cluster, tag)}
	g.add(&c)
	if req.Call != nil {
		pipe := rdb.Pipeline()
		noteHolds(ctx, pipe, []*admitCall{&c}, retention)
		if _, err := pipe.Exec(ctx); err != nil {
			return admitErr(unavailable(err))
		}
	}
	v, err := admitScript.Run(ctx, rdb, g.keys, g.args()...).Result()
	g.answer(v, err)
	return c.err
}

func admitErr(err error) error { return fmt.Errorf("admit: %w", storeErr(err)) }

func asInt(x interface{}) int64 {
	switch t := x.(type) {
	case int64:
		return t
	case string:
		n, _ := strconv.ParseInt(t, 10, 64)
		return n
	}
	return 0
}

// Refund returns the charge of the admitted request req.RequestID to the account that paid,
// exactly once: a second call (from any instance) finds the marker spent and answers
// refunded = false. req needs Keys and RequestID only. It returns what was refunded.
// When the request has no marker (never admitted, or its admit has not run yet: the gateway
// refunds an admit whose answer was lost, and a stalled store may run it later) it leaves a
// tombstone marker (state 'x', living MarkerTTL) and answers refunded = false: an admit of
// that id is then refused (ReasonWithdrawn) and takes nothing.
func (s *Store) Refund(ctx context.Context, req *AdmitRequest) (amount model.Amount, refunded bool, err error) {
	if len(req.Keys) < 2 {
		return 0, false, fmt.Errorf("refund: bad request (keys %d)", len(req.Keys))
	}
	root := hashTag(req.Keys[0])
	return s.markerScript(ctx, "refund", refundScript, req.Keys, req.RequestID, s.markerTTL.Milliseconds(),
		markerHashPrefix(s.cluster, root), tombsKey(s.cluster, root))
}

// Settle makes the charge of an admitted request cost (what the upstream reported), exactly
// once and never after a refund: the difference is debited from or returned to the billing
// account atomically, without a floor check (the request was already admitted). It returns
// the final charge and whether it settled; when it did not (refunded, settled before, or the
// marker expired) the charge is unchanged.
func (s *Store) Settle(ctx context.Context, req *AdmitRequest, cost model.Amount) (model.Amount, bool, error) {
	if len(req.Keys) < 2 || cost < 0 || cost > model.MaxAmount {
		return 0, false, fmt.Errorf("settle: bad request (keys %d, cost %d)", len(req.Keys), cost)
	}
	return s.markerScript(ctx, "settle", settleScript, req.Keys, req.RequestID, int64(cost), markerHashPrefix(s.cluster, hashTag(req.Keys[0])))
}

// markerScript runs refund.lua or settle.lua (op names it in errors), which answer {1 when
// they refunded or settled else 0, amount µ}: the amount and whether they did.
func (s *Store) markerScript(ctx context.Context, op string, script *redis.Script, keys []string, args ...any) (model.Amount, bool, error) {
	v, err := script.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", op, storeErr(err))
	}
	raw, ok := v.([]interface{})
	if !ok || len(raw) < 2 {
		return 0, false, fmt.Errorf("%s: unexpected answer %v", op, v)
	}
	return model.Amount(asInt(raw[1])), asInt(raw[0]) == 1, nil
}

// Marker is the refund/settlement marker of one admitted request, as stored under
// markerKey: "<state>|<billing id>|<price µ>|<day>|<route>", state 'a' (admitted, open) or
// 'r' (refunded), or 's' (settled, with the settled cost appended as a sixth field). Later states and fields are appended, never reordered.
// State 'x' is a tombstone, "x||0||": a refund found no marker and left it so that the
// request's admit, should it run later, takes nothing (see Refund).
type Marker struct {
	State     byte
	BillingID string
	Price     model.Amount
	Day       string
	Route     string
}

// RefundMarker reads the marker of a request (tests and tools); ErrNotFound when absent.
func (s *Store) RefundMarker(ctx context.Context, root string, requestID string) (*Marker, error) {
	key, field := markerKey(markerHashPrefix(s.cluster, root), requestID)
	v, err := s.rdb.HGet(ctx, key, field).Result()
	if err == redis.Nil {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, storeErr(err)
	}
	parts := strings.Split(v, "|")
	if len(parts) < 5 || len(parts[0]) != 1 {
		return nil, fmt.Errorf("refund marker %q is malformed", v)
	}
	return &Marker{State: parts[0][0], BillingID: parts[1], Price: model.Amount(atoi(parts[2])), Day: parts[3], Route: parts[4]}, nil
}

// CallSpecOf is the CallSpec of a valid route's call block (config.Call) for a route that
// forwards to upstream; nil for a route without one.
func CallSpecOf(c *config.Call, upstream string) *CallSpec {
	if c == nil {
		return nil
	}
	t := model.Tariff{}
	t.Rate, _ = model.ParseAmount(string(c.Rate))
	t.ConnectFee, _ = model.ParseAmount(string(c.ConnectFee))
	t.First, t.Next, _ = model.ParseIncrement(c.Increment)
	sec := func(d config.Duration) int64 { return int64(d.Std() / time.Second) }
	return NewCallSpec(CallSpec{Tariff: t, Grant: sec(c.Grant), Max: sec(c.MaxDuration), Min: sec(c.MinDuration),
		RingTimeout: sec(c.RingTimeout), Grace: sec(c.ExpiryGrace), Commit: c.OnExpiry == "commit", Upstream: upstream})
}
