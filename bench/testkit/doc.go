// Package testkit is what the tests of several packages share: a store opened for one test,
// account trees built directly on a *balance.Store, and HTTP requests sent to a listener with
// either kind of account credentials (X-Auth-ID/X-Auth-Token headers or HTTP Basic) or the
// operator's Bearer token, their answers read back with the error body (API.md §3) decoded.
//
// It is test support only: no production code imports it. Every helper takes the test's
// testing.TB and fails the test (t.Fatal) on an error it cannot report otherwise. It imports
// the store and the domain records but neither listener package, so the internal tests of
// gateway and admin can use it.
package testkit
