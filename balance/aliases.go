package balance

import "github.com/tenantgw/gateway/policy/model"

// Aliases of the records that moved to package model, kept while callers move to it. The
// rename (a script run once every branch is in) rewrites balance.X to model.X and deletes
// this file; nothing new should use them.
type (
	Amount     = model.Amount
	Account    = model.Account
	Perms      = model.Perms
	Permission = model.Permission
)

// Aliases of model's constants (see above).
const (
	MicrosPerUnit   = model.MicrosPerUnit
	MaxAmount       = model.MaxAmount
	StatusActive    = model.StatusActive
	StatusSuspended = model.StatusSuspended
	StatusClosed    = model.StatusClosed
	KYCPersonal     = model.KYCPersonal
	KYCCustomer     = model.KYCCustomer
	KYCNotRequired  = model.KYCNotRequired
	KYCPending      = model.KYCPending
	KYCVerified     = model.KYCVerified
	KYCFailed       = model.KYCFailed
	PermCalls       = model.PermCalls
	PermSMS         = model.PermSMS
	PermCDR         = model.PermCDR
)

// Aliases of model's functions and errors (see above).
var (
	ParseAmount        = model.ParseAmount
	ParseAmountBytes   = model.ParseAmountBytes
	ErrAmountSyntax    = model.ErrAmountSyntax
	ErrAmountPrecision = model.ErrAmountPrecision
	ErrAmountRange     = model.ErrAmountRange
)
