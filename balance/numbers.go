package balance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Phone numbers (API.md §9). A number belongs to one account of one tree: the tree's
// '{ROOT}:nums' hash says who (one HGET, which the admit script's caller-ID check makes), the
// owner's '{ROOT}:onum:ID' set lists what it owns, and the index 'num:NUMBER' → ROOT (its own
// slot) finds the tree of a number and keeps a number in at most one tree. The index and the
// tree are in different slots, so no script writes both: each add claims the index entry
// with a claim of its own, which the tree records with the number ('{ROOT}:nclaim'), and a
// remove deletes only the index entry of the claim whose number it removed. So whenever a
// tree has a number, the index entry names that tree (keys.go has the layout). Within a tree a
// number moves in one script (number_move.lua); closing or deleting an account gives its
// numbers to the parent in the close's or delete's own script, so a number always has an owner.
// Callers validate numbers (model.ValidNumber) before they come here.

// Number is one phone number and its owner.
type Number struct {
	Number  string
	AuthID  string // the owner
	Root    string // the owner's tree
	Created time.Time
	Updated time.Time
}

// numberOf decodes a value of '{ROOT}:nums': "<owner>|<created µs>|<updated µs>".
func numberOf(root, number, v string) *Number {
	parts := strings.Split(v, "|")
	if len(parts) != 3 || parts[0] == "" {
		return nil
	}
	return &Number{Number: number, AuthID: parts[0], Root: root,
		Created: time.UnixMicro(atoi(parts[1])).UTC(), Updated: time.UnixMicro(atoi(parts[2])).UTC()}
}

// The bounds of a claim on a number's index entry (AddNumber, RemoveNumber).
const (
	// numberClaimRun: the add's tree script takes the number only while the add's claim is
	// at most this old by the store's clock; an add that gets there later gives up.
	numberClaimRun = time.Minute
	// numberClaimOrphan: how old a claim must be before RemoveNumber deletes an index entry
	// whose tree does not have the number under it. Longer than numberClaimRun by a margin for
	// the clocks, so that no add can still land the number under a claim given up.
	numberClaimOrphan = 2 * time.Minute
)

// errStaleClaim: an add's tree script ran after its claim had grown too old (numberClaimRun).
var errStaleClaim = errors.New("the number's claim grew too old before the add reached its tree")

// AddNumber adds number to the inventory of the main account main: ErrNumberTaken when any
// tree has it, ErrNotFound when main is no main account, ErrAccountClosed when it is closed.
// The index entry is claimed first (SET NX of "main|claim", a claim of its own per add) and
// given up again when the tree refuses it, so two operators adding one number to two trees
// cannot both succeed. The tree's script writes the number only under that claim, and
// records it, so that a remove deletes the index entry of this add only if it took this
// add's number (RemoveNumber). A store failure keeps the claim: the script may have run (its
// answer lost), and a released claim would let a second tree take a number this one has. If
// the script did not run, the number reads as taken but has no owner until a RemoveNumber
// clears the claim, once it is older than numberClaimOrphan. The script refuses a claim older
// than numberClaimRun (ErrUnavailable, the claim given up): by then a remove may have cleared
// it. The claim is made by the store's clock (number_claim.lua) and compared with the store's
// clock, so with one Redis server no other clock matters; in a Cluster the index entry and
// the tree may be on two nodes, whose clocks must agree within numberClaimRun.
func (s *Store) AddNumber(ctx context.Context, main, number string) (*Number, error) {
	out, err := result(numberClaimScript.Run(ctx, s.rdb, []string{numIndexKey(number)}, main, fmt.Sprintf("%016x", rand.Uint64())).Result())
	if err != nil {
		return nil, err // ErrNumberTaken; or a store failure, after which an orphaned claim is cleared as below
	}
	claim := out[1]
	idx := numIndexValue(main, claim)
	keys := []string{accountKey(main, main), numsKey(main), ownedKey(main, main), numClaimsKey(main)}
	out, err = result(numberAddScript.Run(ctx, s.rdb, keys, number, main, claim, s.claimRun.Microseconds()).Result())
	if err != nil {
		stale := len(out) > 0 && out[0] == "STALE"
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAccountClosed) || stale { // refused: nothing written
			_ = s.releaseNumber(context.WithoutCancel(ctx), number, idx)
		}
		if stale {
			return nil, unavailable(errStaleClaim)
		}
		return nil, err
	}
	t := time.UnixMicro(atoi(out[1])).UTC()
	return &Number{Number: number, AuthID: main, Root: main, Created: t, Updated: t}, nil
}

// releaseNumber deletes number's index entry if its value still is idx.
func (s *Store) releaseNumber(ctx context.Context, number, idx string) error {
	return storeErr(numberReleaseScript.Run(ctx, s.rdb, []string{numIndexKey(number)}, idx).Err())
}

// NumberRoot answers the tree that has number (the tree its index entry names), or
// ErrNoSuchNumber.
func (s *Store) NumberRoot(ctx context.Context, number string) (string, error) {
	root, _, err := s.numberIndex(ctx, number)
	return root, err
}

// numberIndex reads number's index entry: its value, and the tree it names (ErrNoSuchNumber
// when there is none).
func (s *Store) numberIndex(ctx context.Context, number string) (root, idx string, err error) {
	idx, err = s.rdb.Get(ctx, numIndexKey(number)).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", ErrNoSuchNumber
	}
	if err != nil {
		return "", "", storeErr(err)
	}
	root, _ = numIndexRoot(idx)
	return root, idx, nil
}

// LookupNumber answers who owns number, whatever the tree, or ErrNoSuchNumber.
func (s *Store) LookupNumber(ctx context.Context, number string) (*Number, error) {
	root, err := s.NumberRoot(ctx, number)
	if err != nil {
		return nil, err
	}
	return s.NumberIn(ctx, root, number)
}

// NumberIn answers who owns number in the tree of root, or ErrNoSuchNumber.
func (s *Store) NumberIn(ctx context.Context, root, number string) (*Number, error) {
	v, err := s.rdb.HGet(ctx, numsKey(root), number).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoSuchNumber
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if n := numberOf(root, number, v); n != nil {
		return n, nil
	}
	return nil, ErrNoSuchNumber
}

// RemoveNumber takes number off the platform, whoever owns it: ErrNoSuchNumber when no tree
// has it. It reads the index entry (tree and claim), removes the tree's entry if the tree
// has the number under that claim, and then deletes the index entry if it still holds that
// claim: a remove that read the entry before another remove and a new add of the number
// neither takes the new add's number nor deletes its index entry (it answers
// ErrNoSuchNumber). An index entry whose tree does not have the number under its claim — its
// add failed in the store before its tree's script ran, or a remove failed between its two
// steps — is deleted (answer nil) once the claim is older than numberClaimOrphan; before
// that the answer is ErrNoSuchNumber and the entry stays, since its add may still be on its
// way. An entry written before claims existed is cleared at once.
func (s *Store) RemoveNumber(ctx context.Context, number string) error {
	root, idx, err := s.numberIndex(ctx, number)
	if err != nil {
		return err
	}
	_, claim := numIndexRoot(idx)
	keys := []string{numsKey(root), numClaimsKey(root)}
	if _, err := result(numberRemoveScript.Run(ctx, s.rdb, keys, number, tag(root), claim, s.claimOrphan.Microseconds()).Result()); err != nil {
		return err
	}
	return s.releaseNumber(ctx, number, idx)
}

// MoveNumber gives number, owned by scope or an account below it in the tree of root, to
// dest, which must be scope or below it and not closed; dest "" gives it back to its owner's
// parent (ErrMainAccountNumber for a main account's number). ErrNoSuchNumber: the tree has no
// such number, or it is out of scope; ErrNotFound: dest is unknown or out of scope;
// ErrAccountClosed: dest is closed. One script: the check and the move are one atomic step.
func (s *Store) MoveNumber(ctx context.Context, root, scope, number, dest string) (*Number, error) {
	out, err := result(numberMoveScript.Run(ctx, s.rdb, []string{numsKey(root)}, number, scope, dest, tag(root)).Result())
	if err != nil {
		return nil, err
	}
	return &Number{Number: number, AuthID: out[1], Root: root,
		Created: time.UnixMicro(atoi(out[2])).UTC(), Updated: time.UnixMicro(atoi(out[3])).UTC()}, nil
}

// NumbersOf answers the numbers owned by the accounts ids of the tree of root, in the
// numbers' order, in one round trip for the lists and one for the records.
func (s *Store) NumbersOf(ctx context.Context, root string, ids []string) ([]*Number, error) {
	cmds := make([]*redis.StringSliceCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.ZRange(ctx, ownedKey(root, id), 0, -1)
		}
		return nil
	}); err != nil {
		return nil, storeErr(err)
	}
	var nums []string
	for _, c := range cmds {
		nums = append(nums, c.Val()...)
	}
	if len(nums) == 0 {
		return nil, nil
	}
	sort.Strings(nums)
	vals, err := s.rdb.HMGet(ctx, numsKey(root), nums...).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]*Number, 0, len(nums))
	for i, v := range vals {
		if str, ok := v.(string); ok {
			if n := numberOf(root, nums[i], str); n != nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}
