// Package wire is what both listeners read from and write to the wire: the caller's
// credentials (ReadCredentials, one rule for the proxied routes and the management API;
// BearerToken for the operator listener), the check of a token against an account's live
// tokens (Tokens), and the request id every answer carries (PickRequestID).
//
// Everything here is safe for concurrent use; the readers used on the gateway's hot path
// allocate nothing when given room to work in.
package wire
