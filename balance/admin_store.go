package balance

import (
	"context"
	"errors"

	"github.com/tenantgw/gateway/policy/model"
)

// Store methods used by the management API (package admin) beyond the account scripts.

// touchScript stamps last_used with the store's clock, only if the account still exists
// (an HSET on a deleted account would bring back a stub record).
var touchScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOT_FOUND'} end
local now = istr(now_us())
redis.call('HSET', KEYS[1], 'last_used', now)
return {'OK', now}`)

// TouchLastUsed records that a's credentials were just accepted (store clock) and sets
// a.LastUsed. ErrNotFound if a is gone.
func (s *Store) TouchLastUsed(ctx context.Context, a *model.Account) error {
	out, err := result(touchScript.Run(ctx, s.rdb, []string{accountKey(a.Root, a.ID)}).Result())
	if err != nil {
		return err
	}
	a.LastUsed = atoi(out[1])
	return nil
}

// MainAccounts reads several main accounts (each the root of its own tree) in one round trip,
// in order; missing ones (a closed main whose retention ended) are left out.
func (s *Store) MainAccounts(ctx context.Context, ids []string) ([]*model.Account, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = accountKey(id, id)
	}
	return s.accountsAt(ctx, keys)
}

// ForgetChildren drops ids from parent's children set: closed children whose record has
// expired (closed_retention). Each goes as a cascading delete would (the delete script in
// its forget mode, one atomic step per id): its usage, and that of any closed children it
// still lists, is folded into parent's (SubtreeUsage still counts it), and its keys go;
// there is no money to move, since closing moved its balance and its credit up. An id whose
// record exists (not expired after all) or that is no longer listed is left alone.
func (s *Store) ForgetChildren(ctx context.Context, root string, parent *model.Account, ids []string) error {
	keys := []string{"", accountKey(root, parent.ID), kidsKey(root, parent.ID)}
	keys = append(keys, chainKeys(root, parent.Chain)...)
	for _, id := range ids {
		keys[0] = accountKey(root, id)
		out, err := result(deleteScript.Run(ctx, s.rdb, keys, "1", "", tag(root), "1", id).Result())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		s.dropIndex(ctx, out[1:])
	}
	return nil
}

// ForgetMains removes ids from the set of main accounts: closed mains whose record expired.
func (s *Store) ForgetMains(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	m := make([]interface{}, len(ids))
	for i, id := range ids {
		m[i] = id
	}
	return storeErr(s.rdb.ZRem(ctx, mainsKey, m...).Err())
}
