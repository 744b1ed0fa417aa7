package balance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/policy/model"
)

// Transfer is one ledger record: a transfer between a parent and a child, a credit
// transfer (credit_limit moved between them), an operator credit (From empty), or a balance
// returned to the parent on close or delete. Amount is positive for transfers, credit
// transfers and returns (the record shows the real direction) and signed for credits
// (negative takes money away).
type Transfer struct {
	ID, From, To, Currency, Reference, Kind string
	Amount                                  model.Amount
	Created                                 time.Time
	// FromAfter and ToAfter are the balances right after the movement; for a credit
	// transfer, the credit limits.
	FromAfter, ToAfter model.Amount
}

// Ledger record kinds.
const (
	KindTransfer       = "transfer"
	KindCredit         = "credit"
	KindCreditTransfer = "credit_transfer"
	KindClose          = "close"
	KindDelete         = "delete"
)

// Idempotency names a client's Idempotency-Key within a scope (the path account and the
// operation) and the request it came with. The zero value means "no key".
type Idempotency struct {
	Scope, Key string // e.g. "MA_X:transfer", the header's value
	Body       []byte // the request as the client sent it (method, path and body)
}

func (i Idempotency) args(root string) (key, hash string) {
	if i.Key == "" {
		return idemKey(root, "-"), ""
	}
	h := sha256.Sum256(i.Body)
	return idemKey(root, i.Scope+":"+i.Key), hex.EncodeToString(h[:])
}

func transferFromHash(m map[string]string) *Transfer {
	if m["id"] == "" {
		return nil
	}
	return &Transfer{ID: m["id"], From: m["from"], To: m["to"], Currency: m["currency"], Reference: m["reference"],
		Kind: m["kind"], Amount: model.Amount(atoi(m["amount"])), Created: time.UnixMicro(atoi(m["created"])).UTC(),
		FromAfter: model.Amount(atoi(m["from_after"])), ToAfter: model.Amount(atoi(m["to_after"]))}
}

// transferRecord reads one ledger record of a tree.
func (s *Store) transferRecord(ctx context.Context, root, id string) (*Transfer, error) {
	return hashRecord(ctx, s, transferKey(root, id), transferFromHash)
}

// moneyResult turns a money script's answer into its record; replay is true when the
// answer is the first answer of an earlier request with the same idempotency key.
func (s *Store) moneyResult(ctx context.Context, root string, out []string, err error, payer string) (*Transfer, bool, error) {
	if err != nil {
		if errors.Is(err, ErrInsufficientBalance) && len(out) >= 3 {
			if len(out) >= 4 {
				payer = out[3]
			}
			return nil, false, &InsufficientError{AuthID: payer, Required: model.Amount(atoi(out[1])), Available: model.Amount(atoi(out[2]))}
		}
		if errors.Is(err, ErrSharedBalance) && len(out) >= 2 {
			return nil, false, &SharedError{AuthID: out[1]}
		}
		return nil, false, err
	}
	tr, err := s.transferRecord(ctx, root, out[1])
	return tr, out[0] == "IDEM", err
}

// SharedError names the account without an own balance behind ErrSharedBalance.
type SharedError struct{ AuthID string }

func (e *SharedError) Error() string { return "account " + e.AuthID + " has no own balance" }
func (e *SharedError) Unwrap() error { return ErrSharedBalance }

// CreditIdem is Credit with an optional idempotency key: the same key with the same request
// returns the first record (replay true) and moves nothing; with a different request it is
// ErrIdempotencyReused.
func (s *Store) CreditIdem(ctx context.Context, a *model.Account, amount model.Amount, trID, reference string, idem Idempotency) (*Transfer, bool, error) {
	ik, ih := idem.args(a.Root)
	out, err := result(creditScript.Run(ctx, s.rdb, []string{accountKey(a.Root, a.ID), ik}, int64(amount), trID, reference, tag(a.Root), ih).Result())
	return s.moneyResult(ctx, a.Root, out, err, a.ID)
}

// Transfer moves amount from parent to its direct child (a negative amount pulls from the
// child), all or nothing, recorded in the ledger. Both need their own balance.
func (s *Store) Transfer(ctx context.Context, parent, child *model.Account, amount model.Amount, trID, reference string, idem Idempotency) (*Transfer, bool, error) {
	return s.movement(ctx, transferScript, parent, child, amount, trID, reference, idem)
}

// CreditTransfer moves amount of credit_limit from parent to its direct child (a negative
// amount pulls it back), all or nothing, recorded in the ledger as KindCreditTransfer. No
// balance changes and the sum of the two credit limits stays the same. Both need their own
// balance. The giver's credit_limit stays >= 0 and its balance >= its new -credit_limit: it
// can give its credit_limit less its debt; beyond that it is an *InsufficientError naming
// the giver, with Available what it could give.
func (s *Store) CreditTransfer(ctx context.Context, parent, child *model.Account, amount model.Amount, trID, reference string, idem Idempotency) (*Transfer, bool, error) {
	return s.movement(ctx, creditTransferScript, parent, child, amount, trID, reference, idem)
}

// movement runs a script of movement.lua's shape between parent and its direct child.
func (s *Store) movement(ctx context.Context, script *redis.Script, parent, child *model.Account, amount model.Amount, trID, reference string, idem Idempotency) (*Transfer, bool, error) {
	ik, ih := idem.args(parent.Root)
	keys := []string{accountKey(parent.Root, parent.ID), accountKey(parent.Root, child.ID), ik}
	out, err := result(script.Run(ctx, s.rdb, keys, int64(amount), trID, reference, tag(parent.Root), ih).Result())
	return s.moneyResult(ctx, parent.Root, out, err, parent.ID)
}

// LedgerQuery selects ledger records where ID is a side.
type LedgerQuery struct {
	Root, ID   string
	Start, End time.Time // start inclusive, end exclusive; zero = unbounded
	Other      string    // only records whose other side is this account; "" = all
}

// Ledger returns the matching records, newest first. Records with the same time are in a
// fixed order, so paging over the result has no gaps or duplicates.
func (s *Store) Ledger(ctx context.Context, q LedgerQuery) ([]*Transfer, error) {
	min, max := "-inf", "+inf"
	if !q.Start.IsZero() {
		min = itoa(q.Start.UnixMicro())
	}
	if !q.End.IsZero() {
		max = "(" + itoa(q.End.UnixMicro())
	}
	ids, err := s.rdb.ZRevRangeByScore(ctx, ledgerKey(q.Root, q.ID), &redis.ZRangeBy{Min: min, Max: max}).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = transferKey(q.Root, id)
	}
	maps, err := s.hashes(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*Transfer, 0, len(ids))
	for _, m := range maps {
		tr := transferFromHash(m)
		if tr == nil {
			continue
		}
		if q.Other != "" && tr.From != q.Other && tr.To != q.Other {
			continue
		}
		out = append(out, tr)
	}
	return out, nil
}
