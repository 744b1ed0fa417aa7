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

// tag returns the key prefix "{ROOT}:" of a tree.
func tag(root string) string { return "{" + root + "}:" }

func chainKeys(root string, chain []string) []string {
	keys := make([]string, 0, len(chain))
	for _, id := range chain {
		keys = append(keys, accountKey(root, id))
	}
	return keys
}

// result reads a script's answer: a status word and its details.
func result(v interface{}, err error) ([]string, error) {
	if err != nil {
		return nil, storeErr(err)
	}
	raw, ok := v.([]interface{})
	if !ok || len(raw) == 0 {
		return nil, fmt.Errorf("store script: unexpected answer %v", v)
	}
	out := make([]string, len(raw))
	for i, x := range raw {
		switch t := x.(type) {
		case string:
			out[i] = t
		case int64:
			out[i] = strconv.FormatInt(t, 10)
		}
	}
	return out, scriptError(out[0])
}

// CreateAccount writes a new account. For a subaccount a.Chain must hold its ancestors
// (parent first). It checks atomically that the parent exists, is not closed, that no
// ancestor is suspended, and that the parent has room (max_subaccounts). a.Created and
// a.Updated are set from the store's clock.
func (s *Store) CreateAccount(ctx context.Context, a *model.Account) error {
	// The index is written first: an index entry without its account is harmless (ids are
	// random), an account without its index would be unreachable.
	ok, err := s.rdb.SetNX(ctx, indexKey(a.ID), a.Root, 0).Result()
	if err != nil {
		return storeErr(err)
	}
	if !ok {
		return ErrExists
	}
	keys := []string{accountKey(a.Root, a.ID)}
	if !a.IsMain() {
		keys = append(keys, kidsKey(a.Root, a.Parent))
		keys = append(keys, chainKeys(a.Root, a.Chain)...)
	}
	out, err := result(createScript.Run(ctx, s.rdb, keys, accountFields(a)...).Result())
	if err != nil {
		s.rdb.Del(context.WithoutCancel(ctx), indexKey(a.ID))
		if errors.Is(err, ErrParentSuspended) && len(out) > 1 {
			return &SuspendedError{AuthID: out[1]}
		}
		return err
	}
	a.Created = atoi(out[1])
	a.Updated = a.Created
	if a.IsMain() {
		if err := s.rdb.ZAdd(ctx, mainsKey, redis.Z{Score: float64(a.Created), Member: a.ID}).Err(); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

// SuspendedError names the suspended ancestor behind ErrParentSuspended.
type SuspendedError struct{ AuthID string }

func (e *SuspendedError) Error() string { return "account " + e.AuthID + " is suspended" }
func (e *SuspendedError) Unwrap() error { return ErrParentSuspended }

// rootOf returns the root of an account id, or ErrNotFound.
func (s *Store) rootOf(ctx context.Context, id string) (string, error) {
	root, err := s.rdb.Get(ctx, indexKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	return root, storeErr(err)
}

// Account reads an account by id, or ErrNotFound (also for a closed account whose retention
// ended, and for a deleted one).
func (s *Store) Account(ctx context.Context, id string) (*model.Account, error) {
	root, err := s.rootOf(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.AccountIn(ctx, root, id)
}

// AccountIn reads an account of a known tree.
func (s *Store) AccountIn(ctx context.Context, root, id string) (*model.Account, error) {
	as, err := s.accountsAt(ctx, []string{accountKey(root, id)})
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, ErrNotFound
	}
	return as[0], nil
}

// hashRecord reads the hash at key into its record with decode, which answers nil for a
// hash that is missing or not a record of its kind: ErrNotFound then.
func hashRecord[T any](ctx context.Context, s *Store, key string, decode func(map[string]string) *T) (*T, error) {
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if r := decode(m); r != nil {
		return r, nil
	}
	return nil, ErrNotFound
}

// hashes reads several hashes in one round trip (a pipeline; go-redis splits it per node
// on a cluster), in order; a missing hash reads as an empty map.
func (s *Store) hashes(ctx context.Context, keys []string) ([]map[string]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, k)
		}
		return nil
	}); err != nil {
		return nil, storeErr(err)
	}
	out := make([]map[string]string, len(keys))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// accountsAt reads the accounts at keys in one round trip, in order, each with its
// ActiveCalls (the live members of its slots); missing ones are left out.
func (s *Store) accountsAt(ctx context.Context, keys []string) ([]*model.Account, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	hs := make([]*redis.MapStringStringCmd, len(keys))
	zs := make([]*redis.IntCmd, len(keys))
	now := "(" + itoa(time.Now().UnixMicro())
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			hs[i] = p.HGetAll(ctx, k)
			zs[i] = p.ZCount(ctx, slotsKeyOf(k), now, "+inf")
		}
		return nil
	}); err != nil {
		return nil, storeErr(err)
	}
	out := make([]*model.Account, 0, len(keys))
	for i := range keys {
		if a := accountFromHash(hs[i].Val()); a != nil {
			a.ActiveCalls = int(zs[i].Val())
			out = append(out, a)
		}
	}
	return out, nil
}

// Accounts reads several accounts of one tree in one round trip, in order; missing ones are
// left out.
func (s *Store) Accounts(ctx context.Context, root string, ids []string) ([]*model.Account, error) {
	return s.accountsAt(ctx, chainKeys(root, ids))
}

// Children returns the ids of the direct children of id, newest first. Ids of closed
// children whose retention ended stay in the set until ForgetChildren drops them.
func (s *Store) Children(ctx context.Context, root, id string) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, kidsKey(root, id), 0, -1).Result()
	return ids, storeErr(err)
}

// Mains returns the ids of every main account, newest first.
func (s *Store) Mains(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, mainsKey, 0, -1).Result()
	return ids, storeErr(err)
}

// UpdateAccount applies ch to a atomically: a closed account refuses every change; a status
// change under a suspended ancestor is refused; closing an account with open children is
// refused; the balance mode switches only from shared to own (starting at zero). Closing
// returns the own balance to the parent's billing account as a ledger record of kind close.
func (s *Store) UpdateAccount(ctx context.Context, a *model.Account, ch Change) error {
	keys := append([]string{accountKey(a.Root, a.ID)}, chainKeys(a.Root, a.Chain)...)
	want := ""
	if ch.WantOwn != nil {
		want = b01(*ch.WantOwn)
	}
	set, del := ch.fields()
	args := append([]interface{}{ch.Status, want, ch.CloseTrID, ch.Retention.Milliseconds(), tag(a.Root), del}, set...)
	out, err := result(updateScript.Run(ctx, s.rdb, keys, args...).Result())
	if err != nil {
		if errors.Is(err, ErrParentSuspended) && len(out) > 1 {
			return &SuspendedError{AuthID: out[1]}
		}
		return err
	}
	if ch.Status == model.StatusClosed && ch.Retention > 0 {
		s.rdb.PExpire(ctx, indexKey(a.ID), ch.Retention)
	}
	return nil
}

// RotateToken makes newHash the account's token; the current one stays valid for grace
// (0 revokes it now). It returns when the previous token expires (zero time if revoked).
func (s *Store) RotateToken(ctx context.Context, a *model.Account, newHash string, grace time.Duration) (time.Time, error) {
	out, err := result(rotateScript.Run(ctx, s.rdb, []string{accountKey(a.Root, a.ID)}, newHash, grace.Milliseconds()).Result())
	if err != nil {
		return time.Time{}, err
	}
	if us := atoi(out[1]); us > 0 {
		return time.UnixMicro(us).UTC(), nil
	}
	return time.Time{}, nil
}

// DeleteAccount deletes a (a direct child of parent) and, with cascade, its subtree. Own
// balances in what is deleted move to parent's billing account, and its usage is folded into
// parent's, per day and route, in the same atomic step: it counts in the SubtreeUsage of
// parent and of every account above, which the delete leaves as they were, not in parent's
// own UsageOf. An error has deleted nothing. It returns every deleted id.
func (s *Store) DeleteAccount(ctx context.Context, parent, a *model.Account, cascade bool, trPrefix string) ([]string, error) {
	keys := []string{accountKey(a.Root, a.ID), accountKey(a.Root, parent.ID), kidsKey(a.Root, parent.ID)}
	keys = append(keys, chainKeys(a.Root, parent.Chain)...)
	out, err := result(deleteScript.Run(ctx, s.rdb, keys, b01(cascade), trPrefix, tag(a.Root), "0", "").Result())
	if err != nil {
		return nil, err
	}
	s.dropIndex(ctx, out[1:])
	return out[1:], nil
}

// dropIndex deletes the index entries of deleted ids. They live in other slots: one by one
// (no cross-slot DEL); best effort, as an entry of a deleted id leads nowhere.
func (s *Store) dropIndex(ctx context.Context, ids []string) {
	for _, id := range ids {
		s.rdb.Del(ctx, indexKey(id))
	}
}

// Credit adds amount (negative takes away, never below -credit_limit) to a's own balance
// and records it in the ledger. It returns the balance after and the record's time.
func (s *Store) Credit(ctx context.Context, a *model.Account, amount model.Amount, trID, reference string) (model.Amount, time.Time, error) {
	tr, _, err := s.CreditIdem(ctx, a, amount, trID, reference, Idempotency{})
	if err != nil {
		return 0, time.Time{}, err
	}
	return tr.ToAfter, tr.Created, nil
}
