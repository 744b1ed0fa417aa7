// Package model holds the gateway's domain records, the values every other package decides on
// or stores: Amount (exact int64 micro-units, and the one money grammar, ParseAmount), the
// account record (Account, Perms), its statuses and KYC states, and Permission, the flag a
// route needs.
//
// Contracts:
//   - It is a leaf: it imports none of the gateway's packages, so policy (the rules), balance
//     (the store), config, admin and gateway all use it without depending on each other.
//   - Records are plain data: no I/O, no store layout (how balance writes them to Redis stays
//     in balance), no rules about who may change what (those are policy's).
//   - Money never passes through a float: ParseAmount and Amount's JSON methods read decimal
//     text exactly, and every Amount the gateway accepts is within ±MaxAmount.
package model
