package balance

import (
	"errors"

	"github.com/tenantgw/gateway/policy/model"
)

// Decisions of the store's scripts. Callers map them to HTTP in one place (policy/wire.ErrorFor).
var (
	ErrNotFound            = errors.New("account not found")
	ErrExists              = errors.New("account id already exists")
	ErrAccountClosed       = errors.New("account is closed")
	ErrParentSuspended     = errors.New("an ancestor is suspended")
	ErrHasSubaccounts      = errors.New("account has subaccounts")
	ErrSubaccountLimit     = errors.New("subaccount limit reached")
	ErrSharedBalance       = errors.New("account has no own balance")
	ErrInsufficientBalance = errors.New("balance too low")
	ErrBalanceRange        = errors.New("balance would exceed the largest amount the store holds")
	ErrIdempotencyReused   = errors.New("idempotency key reused with a different request")
	ErrBalanceNotZero      = errors.New("a main account closes only with a zero balance")
	ErrNoSuchNumber        = errors.New("no such phone number")
	ErrNumberTaken         = errors.New("the number belongs to an account already")
	ErrMainAccountNumber   = errors.New("a main account's number is removed by the operator only")
)

// InsufficientError is returned (wrapping ErrInsufficientBalance) when an account cannot pay.
type InsufficientError struct {
	AuthID    string       // the account whose balance is too low
	Required  model.Amount // what the operation needed
	Available model.Amount // balance + credit_limit at the time
}

func (e *InsufficientError) Error() string {
	return "balance too low: " + e.AuthID + " needs " + e.Required.String() + ", has " + e.Available.String()
}

func (e *InsufficientError) Unwrap() error { return ErrInsufficientBalance }

// scriptError maps the status word a script returns to a sentinel error.
func scriptError(word string) error {
	switch word {
	case "OK", "IDEM":
		return nil
	case "NOT_FOUND":
		return ErrNotFound
	case "EXISTS":
		return ErrExists
	case "CLOSED":
		return ErrAccountClosed
	case "PARENT_SUSPENDED":
		return ErrParentSuspended
	case "HAS_SUB":
		return ErrHasSubaccounts
	case "SUB_LIMIT":
		return ErrSubaccountLimit
	case "SHARED":
		return ErrSharedBalance
	case "INSUFFICIENT":
		return ErrInsufficientBalance
	case "IDEM_REUSED":
		return ErrIdempotencyReused
	case "BALANCE":
		return ErrBalanceNotZero
	case "RANGE":
		return ErrBalanceRange
	case "NO_NUMBER":
		return ErrNoSuchNumber
	case "TAKEN":
		return ErrNumberTaken
	case "MAIN_NUMBER":
		return ErrMainAccountNumber
	}
	return errors.New("store script answered " + word)
}
