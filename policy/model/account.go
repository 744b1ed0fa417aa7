package model

// Account is an account record: a main account (the root of a tree) or a subaccount. It is
// plain data; the store decides how it is kept (package balance), policy what may change.
type Account struct {
	ID, Parent, Root string
	Depth            int      // 0 for a main account
	Chain            []string // ancestors from the parent up to the root; empty for a main
	Name             string
	Desc, Email      *string // nil = null
	BusinessType     *string
	Status           string // StatusActive, StatusSuspended or StatusClosed
	Perms            Perms
	RateLimit        int    // requests per second
	KYCMode          string // KYCPersonal or KYCCustomer
	KYCStatus        string // KYCNotRequired, KYCPending, KYCVerified or KYCFailed
	Own              bool   // has its own balance
	Balance          Amount // own balance; meaningful when Own
	CreditLimit      Amount
	Currency         string
	MaxSub           int
	Kids             int   // children that are not closed
	Created, Updated int64 // Unix µs
	LastUsed, Closed int64 // Unix µs; 0 = never
	Tok, TokPrev     string
	TokPrevExp       int64 // Unix µs
	// Telephony limits (API.md §8), each over the account's whole subtree; 0 = none.
	MaxCalls int // max_concurrent_calls
	CPS      int // calls_per_second (burst: one second's worth)
	// Held is what open calls billed to this account have reserved (its own balance only).
	Held Amount
	// ActiveCalls is how many calls are open in the subtree now (read, never written).
	ActiveCalls int
}

// Perms are the permission flags of an account.
type Perms struct{ Calls, SMS, CDR, Sub bool }

// Statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusClosed    = "closed"
)

// KYC modes and states.
const (
	KYCPersonal    = "personal_use"
	KYCCustomer    = "customer_use"
	KYCNotRequired = "not_required"
	KYCPending     = "pending"
	KYCVerified    = "verified"
	KYCFailed      = "failed"
)

// IsMain reports whether a is a main account.
func (a *Account) IsMain() bool { return a.Parent == "" }
