package balance

import "context"

// What balance's tests use of the Redis key layout and of the id → root lookup, which the
// package does not export.
var (
	AccountKey = accountKey
	KidsKey    = kidsKey
	LedgerKey  = ledgerKey
	IdemKey    = idemKey
	IndexKey   = indexKey
)

// TombsKey is the tombstone flag of the markers of tree root's requests in s.
func (s *Store) TombsKey(root string) string { return tombsKey(s.cluster, root) }

// MarkerKey is where s keeps the refund marker of request id of tree root (key, field).
func (s *Store) MarkerKey(root, id string) (key, field string) {
	return markerKey(markerHashPrefix(s.cluster, root), id)
}

// RootOf returns the root of an account id, or ErrNotFound.
func (s *Store) RootOf(ctx context.Context, id string) (string, error) { return s.rootOf(ctx, id) }

// The number layout (keys.go): a tree's number hash, an account's list, the number index,
// the tree's claims.
var (
	NumsKey      = numsKey
	OwnedKey     = ownedKey
	NumIndexKey  = numIndexKey
	NumClaimsKey = numClaimsKey
)
