package balance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/policy/model"
)

// Holds (API.md §8). A call route's admit opens a hold (lua/call.lua) in the tree of the
// path account:
//
//	{ROOT}:hold:HL_X  hash  id, acct (path account), bill (billing account), route, up
//	                        (upstream), status (open | settled | voided | expired), granted
//	                        (s), held (µ), charged (µ), created, expires, ended (µs; ended 0
//	                        while open), final ('1'/'0'), tf (the tariff: "rate first next
//	                        fee"), grant, maxd, grace (s), onexp ('c' commit / 'r' release),
//	                        chain (the accounts holding a slot, path account first), day (of
//	                        the admit: the usage the charge goes to), sig (the op that ended
//	                        it), late ('1' once a settle corrected an expiry). An ended hold
//	                        expires hold_retention after it ended.
//	{ROOT}:holds      zset  the tree's open holds, scored by expiry (µs): the reaper's work
//	hold:HL_X         string HL_X → ROOT, so the backend finds a hold by its id (its own
//	                        slot; written with the admit, lives as long as the hold can)
//	holdroots         zset  trees that had holds lately, scored by when (µs): where reapers
//	                        look first (a hint, never the truth: every tree is swept too)
//
// and a slot on every account of the chain ({ROOT}:slots:ID, keys.go). A hold ends once —
// settled, voided or expired — in hold_end (lua/hold.lua), which moves the money, releases
// held and frees the slots together.

// holdIndexKey is the key of the hold id → root index entry.
func holdIndexKey(id string) string { return "hold:" + id }

// holdKey is the key of a hold's record.
func holdKey(root, id string) string { return "{" + root + "}:hold:" + id }

// holdsKey is the key of a tree's open holds.
func holdsKey(root string) string { return "{" + root + "}:holds" }

// holdRootsKey is the reapers' hint of trees with holds.
const holdRootsKey = "holdroots"

// Hold is a call's hold as the store keeps it (API.md §8's hold object).
type Hold struct {
	ID, AuthID, BillingID, Route, Upstream string
	Status                                 string // HoldOpen, HoldSettled, HoldVoided or HoldExpired
	Granted                                int64  // seconds
	Held, Charged                          model.Amount
	Created, Expires, Ended                int64 // Unix µs; Ended 0 while open
	Final                                  bool
}

// Hold statuses.
const (
	HoldOpen    = "open"
	HoldSettled = "settled"
	HoldVoided  = "voided"
	HoldExpired = "expired"
)

// ErrHoldEnded: the hold has ended and the request is not a replay of what ended it (API.md
// §3's 409 hold_ended).
var ErrHoldEnded = errors.New("hold ended")

// HoldOp is how EndHold ends a hold.
type HoldOp byte

// The ways a hold ends.
const (
	SettleDuration HoldOp = 'd' // the call lasted Value seconds (0 = never answered)
	SettleCost     HoldOp = 'c' // the call cost Value µ
	Void           HoldOp = 'v' // the call never connected
	expire         HoldOp = 'x' // the reaper
)

func holdFromPairs(v []interface{}) *Hold {
	m := make(map[string]string, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		k, _ := v[i].(string)
		val, _ := v[i+1].(string)
		m[k] = val
	}
	return holdFromHash(m)
}

func holdFromHash(m map[string]string) *Hold {
	if m["id"] == "" {
		return nil
	}
	return &Hold{ID: m["id"], AuthID: m["acct"], BillingID: m["bill"], Route: m["route"], Upstream: m["up"],
		Status: m["status"], Granted: atoi(m["granted"]), Held: model.Amount(atoi(m["held"])),
		Charged: model.Amount(atoi(m["charged"])), Created: atoi(m["created"]), Expires: atoi(m["expires"]),
		Ended: atoi(m["ended"]), Final: m["final"] == "1"}
}

// holdRoot finds the tree of hold id; ErrNotFound when unknown.
func (s *Store) holdRoot(ctx context.Context, id string) (string, error) {
	root, err := s.rdb.Get(ctx, holdIndexKey(id)).Result()
	if err == redis.Nil {
		return "", ErrNotFound
	}
	return root, storeErr(err)
}

// Hold reads a hold by id; ErrNotFound when it is unknown or its record is gone.
func (s *Store) Hold(ctx context.Context, id string) (*Hold, error) {
	root, err := s.holdRoot(ctx, id)
	if err != nil {
		return nil, err
	}
	return hashRecord(ctx, s, holdKey(root, id), holdFromHash)
}

// EndHold settles (by duration or cost) or voids hold id, exactly once. It answers the hold
// as it now reads and whether this was a replay (the same op and value as what ended it).
// A settle of an expired hold corrects its charge, once. ErrHoldEnded (with the hold) when
// the hold ended otherwise; ErrNotFound when unknown.
func (s *Store) EndHold(ctx context.Context, id string, op HoldOp, value int64) (*Hold, bool, error) {
	if op != SettleDuration && op != SettleCost && op != Void || value < 0 || (op == SettleCost && value > int64(model.MaxAmount)) {
		return nil, false, fmt.Errorf("end hold: bad request (%c %d)", op, value)
	}
	root, err := s.holdRoot(ctx, id)
	if err != nil {
		return nil, false, err
	}
	val := ""
	if op != Void {
		val = strconv.FormatInt(value, 10)
	}
	return s.endHold(ctx, holdKey(root, id), op, val)
}

func (s *Store) endHold(ctx context.Context, key string, op HoldOp, val string) (*Hold, bool, error) {
	v, err := holdEndScript.Run(ctx, s.rdb, []string{key}, string(op), val, s.holdRetention.Milliseconds()).Result()
	if err != nil {
		return nil, false, fmt.Errorf("end hold: %w", storeErr(err))
	}
	h, replay, err := holdAnswer(v)
	if err == nil && !replay {
		s.holdEvent(h.Route, h.Status)
		if h.Status == HoldSettled && h.Charged > h.Held {
			s.holdOverrun(h.Route, h.Charged-h.Held)
			logger().Warn("call settled over its hold: the balance may end below its floor by the excess",
				"hold_id", h.ID, "route", h.Route, "held", h.Held.String(), "charged", h.Charged.String())
		}
	}
	return h, replay, err
}

// holdAnswer decodes {word, record} of the hold scripts.
func holdAnswer(v interface{}) (*Hold, bool, error) {
	raw, ok := v.([]interface{})
	if !ok || len(raw) == 0 {
		return nil, false, fmt.Errorf("hold: unexpected answer %v", v)
	}
	word, _ := raw[0].(string)
	var h *Hold
	if len(raw) > 1 {
		rec, _ := raw[1].([]interface{})
		h = holdFromPairs(rec)
	}
	switch word {
	case "OK":
		return h, false, nil
	case "REPLAY":
		return h, true, nil
	case "ENDED":
		return h, false, ErrHoldEnded
	case "NOT_FOUND":
		return nil, false, ErrNotFound
	case "RANGE":
		return nil, false, ErrBalanceRange
	case "NOT_DUE":
		return h, false, nil
	}
	return nil, false, fmt.Errorf("hold: unexpected answer %v", v)
}

// ExtendHold grants open hold id up to another grant of seconds (API.md §8's Extend).
// ErrHoldEnded (with the hold) once it ended or its lifetime is over.
func (s *Store) ExtendHold(ctx context.Context, id string) (*Hold, error) {
	root, err := s.holdRoot(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := holdExtendScript.Run(ctx, s.rdb, []string{holdKey(root, id)}).Result()
	if err != nil {
		return nil, fmt.Errorf("extend hold: %w", storeErr(err))
	}
	h, _, err := holdAnswer(v)
	return h, err
}

// OpenHolds lists the open holds of account id's subtree (its live slots), newest first,
// from offset, at most limit, with how many there are in all.
func (s *Store) OpenHolds(ctx context.Context, root, id string, offset, limit int) ([]*Hold, int, error) {
	sk := slotsKey(root, id)
	var total *redis.IntCmd
	var page *redis.StringSliceCmd
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, sk, "-inf", itoa(time.Now().UnixMicro())) // dead slots
		total = p.ZCard(ctx, sk)
		page = p.ZRevRange(ctx, sk, int64(offset), int64(offset+limit-1))
		return nil
	}); err != nil {
		return nil, 0, storeErr(err)
	}
	ids := page.Val()
	keys := make([]string, len(ids))
	for i, h := range ids {
		keys[i] = holdKey(root, h)
	}
	maps, err := s.hashes(ctx, keys)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*Hold, 0, len(maps))
	for _, m := range maps {
		if h := holdFromHash(m); h != nil {
			out = append(out, h)
		}
	}
	return out, int(total.Val()), nil
}

// ReapHolds expires the due holds of one tree, at most max; it answers how many it expired
// and how many holds of the tree are still open. Each expiry is logged and counted.
func (s *Store) ReapHolds(ctx context.Context, root string, max int) (n, open int, err error) {
	v, err := holdReapScript.Run(ctx, s.rdb, []string{holdsKey(root)}, s.holdRetention.Milliseconds(), max).Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("reap holds: %w", storeErr(err))
	}
	if len(v) < 2 {
		return 0, 0, fmt.Errorf("reap holds: unexpected answer %v", v)
	}
	for i := 2; i+1 < len(v); i += 2 {
		id, _ := v[i].(string)
		route, _ := v[i+1].(string)
		s.holdEvent(route, HoldExpired)
		logger().Info("call hold expired without a Settle or Void", "hold_id", id, "route", route)
	}
	return int(asInt(v[0])), int(asInt(v[1])), nil
}
