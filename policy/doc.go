// Package policy decides who is who and what they may do: account ids and tokens (generated
// with crypto/rand, stored only as SHA-256 hashes, verified in constant time), the access
// rule of the account tree, who may change what, the effective status, permissions and KYC
// of a chain, the route table, and the decision errors (ErrForbidden, InvalidError…), which
// policy/wire maps to the answers of API.md §3.
//
// Pure decisions take their inputs (and the time) as arguments and touch no store; the
// records they decide on are package model's (policy/model: Account, Amount, Permission), so
// policy depends on no store code. Everything here is safe for concurrent use.
package policy
