package balance

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Phone numbers (API.md §9). A number belongs to one account of one tree: the tree's
// '{ROOT}:nums' hash says who (one HGET, which the admit script's caller-ID check makes), the
// owner's '{ROOT}:onum:ID' set lists what it owns, and the index 'num:NUMBER' → ROOT (its own
// slot) finds the tree of a number and keeps a number in at most one tree. Within a tree a
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

// AddNumber adds number to the inventory of the main account main: ErrNumberTaken when any
// tree has it, ErrNotFound when main is no main account, ErrAccountClosed when it is closed.
// The index entry is claimed first (SET NX) and given up again when the tree refuses it, so
// two operators adding one number to two trees cannot both succeed.
func (s *Store) AddNumber(ctx context.Context, main, number string) (*Number, error) {
	ok, err := s.rdb.SetNX(ctx, numIndexKey(number), main, 0).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if !ok {
		return nil, ErrNumberTaken
	}
	keys := []string{accountKey(main, main), numsKey(main), ownedKey(main, main)}
	out, err := result(numberAddScript.Run(ctx, s.rdb, keys, number, main).Result())
	if err != nil {
		if !errors.Is(err, ErrNumberTaken) { // the tree has it: the claim is its own
			s.rdb.Del(context.WithoutCancel(ctx), numIndexKey(number))
		}
		return nil, err
	}
	t := time.UnixMicro(atoi(out[1])).UTC()
	return &Number{Number: number, AuthID: main, Root: main, Created: t, Updated: t}, nil
}

// NumberRoot answers the tree that has number, or ErrNoSuchNumber.
func (s *Store) NumberRoot(ctx context.Context, number string) (string, error) {
	root, err := s.rdb.Get(ctx, numIndexKey(number)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNoSuchNumber
	}
	return root, storeErr(err)
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
// has it. The tree's entry goes first, then the index entry (an index entry left by a failure
// between the two is removed by the next RemoveNumber of that number).
func (s *Store) RemoveNumber(ctx context.Context, number string) error {
	root, err := s.NumberRoot(ctx, number)
	if err != nil {
		return err
	}
	_, err = result(numberRemoveScript.Run(ctx, s.rdb, []string{numsKey(root)}, number, tag(root)).Result())
	if err != nil && !errors.Is(err, ErrNoSuchNumber) {
		return err
	}
	if err := s.rdb.Del(ctx, numIndexKey(number)).Err(); err != nil {
		return storeErr(err)
	}
	return nil
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
