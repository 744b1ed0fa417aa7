package balance

import "strings"

// Key layout. Every key of one account tree carries the root's id as its Redis Cluster hash
// tag, so that every multi-key script touches one slot:
//
//	{ROOT}:acct:ID    hash   the account record (fields below)
//	{ROOT}:kids:ID    zset   direct children of ID; member = child id, score = created_at (µs)
//	{ROOT}:usage:ID   hash   usage of ID: field "YYYY-MM-DD|route|n" = count, "…|c" = charged µ,
//	                         "…|s" = settlements; "…|dn", "…|dc", "…|ds" the same folded into
//	                         ID from descendants it deleted (only subtree sums count them)
//	rf:BUCKET         hash   refund / settlement markers of up to 16 proxied requests, of any
//	                         trees (expires; see markerKey); on a Redis Cluster each tree has its
//	                         own, {ROOT}:rf:BUCKET
//	tombs             string "1" while a tombstone may exist in the marker hashes (set by a
//	                         refund that found no marker, for the marker lifetime); the admit
//	                         script reads markers only while it is up. On a Redis Cluster each
//	                         tree has its own, {ROOT}:tombs, beside its markers
//	{ROOT}:slots:ID   zset   the open calls of ID's subtree (its concurrency slots): member =
//	                         hold id, score = the hold's expiry (µs); members scored at or
//	                         before now are dead and are purged before counting (holds.go)
//	{ROOT}:ledger:ID  zset   ledger record ids where ID is a side; score = created_at (µs)
//	{ROOT}:tr:TRID    hash   one ledger record
//	{ROOT}:idem:K     string idempotency record (expires)
//	{ROOT}:nums       hash   the tree's phone numbers: field = number (E.164), value =
//	                         "<owner id>|<created µs>|<updated µs>"; the admit script's
//	                         caller-ID check is one HGET of it
//	{ROOT}:onum:ID    zset   the numbers ID owns, score 0 (so in the numbers' order)
//	{ROOT}:nclaim     hash   field = a number of the tree, value = the claim its index entry
//	                         had when the number came in (absent for a number added before
//	                         claims existed); written and removed with the number's entry in
//	                         '{ROOT}:nums', kept by moves
//	id:ID             string ID → ROOT; never changes once written (its own slot)
//	num:NUMBER        string "ROOT|CLAIM" while the number is in the tree ROOT (its own slot): at
//	                         most one tree has a number. CLAIM is "<µs>.<nonce>", the store's
//	                         clock and 16 random hex digits, one per add; an entry written
//	                         before claims is "ROOT" alone. Claimed (SET NX) before the tree's
//	                         entry is written, under this claim only, and deleted after the
//	                         entry is removed, only while it still holds the same claim
//	                         (numbers.go: AddNumber, RemoveNumber)
//	mains             zset   every main account; member = id, score = created_at (µs)
//	usage:compacted   string the latest usage cutoff ("YYYY-MM-DD") a Compactor made a whole
//	                         pass with: the other instances skip that pass (compact.go)
//
// Fields of an account hash. Integers are decimal strings; times are Unix microseconds;
// money is micro-units; a field that is absent reads as JSON null where the API allows null.
//
//	id, parent ("" for a main account), root, depth (0 = main),
//	chain           ancestors from the parent up to the root, comma-separated ("" for a main)
//	name, desc, email, btype (business_type)
//	status          active | suspended | closed
//	p_calls, p_sms, p_cdr, p_sub   permission flags, "1" or "0"
//	rate            rate_limit, requests per second (burst: one second's worth)
//	kyc_mode        personal_use | customer_use
//	kyc_status      not_required | pending | verified | failed
//	own             "1" when the account has its own balance, "0" when it spends its parent's
//	bal             own balance (µ); only meaningful when own = "1"
//	credit          credit_limit (µ), how far below zero bal may go
//	currency        ISO 4217 code, the root's
//	max_sub         max_subaccounts
//	kids            number of children that are not closed
//	created, updated, last_used, closed   (µs; last_used and closed absent until set)
//	tok             SHA-256 hex of the current auth_token
//	tok_prev        SHA-256 hex of the previous token during a rotation grace period
//	tok_prev_exp    when tok_prev stops working (µs)
//	tat             GCRA theoretical arrival time of the account's rate limit (µs)
//	mcc             max_concurrent_calls (0 = none), over the subtree
//	cps             calls_per_second (0 = none), over the subtree; burst one second's worth
//	ctat            GCRA theoretical arrival time of cps (µs; absent until a call)
//	held            what open holds billed to the account reserve (µ; own balances only)

// accountKey returns the key of an account's hash.
func accountKey(root, id string) string { return "{" + root + "}:acct:" + id }

// kidsKey returns the key of an account's children set.
func kidsKey(root, id string) string { return "{" + root + "}:kids:" + id }

// UsageKey returns the key of an account's usage counters.
func UsageKey(root, id string) string { return "{" + root + "}:usage:" + id }

// markerKey returns where the refund / settlement marker of a proxied request lives: field
// of hash key, whose name starts with prefix (markerHashPrefix). Markers are grouped by request
// id without its last character, so one hash holds up to 16 consecutive gateway request ids
// (they end in a hex counter): the admit of a batch writes a few hashes instead of a key per
// request, and hashes that small stay in Redis's compact encoding (about 60 bytes a marker,
// keys and expiry included). An id of one character is field id of prefix itself. The hash
// expires the store's MarkerTTL after its last admit, so every marker lives at least that
// long. A refund that finds no marker writes a tombstone there (and restarts the hash's
// lifetime), which the admit script refuses to admit over (see Store.Refund). (The scripts'
// marker_key and marker_field, in prelude.lua.)
func markerKey(prefix, requestID string) (key, field string) {
	if len(requestID) <= 1 {
		return prefix, requestID
	}
	n := len(requestID) - 1
	return prefix + requestID[:n], requestID[n:]
}

// markerHashPrefix is where the marker hashes of tree root's requests are: on a Redis Cluster
// the tree's own, "{ROOT}:rf:" (a script's keys share one slot, and an admit call holds one
// tree there); on one server (Sentinel and the embedded store too) one set for every tree,
// "rf:", so that a batch of admits from many trees, whose ids are consecutive, writes its
// markers in a few hashes rather than one per tree — one write and one expiry per request
// fewer, and a sixteenth of the keys.
func markerHashPrefix(cluster bool, root string) string {
	if cluster {
		return "{" + root + "}:rf:"
	}
	return "rf:"
}

// tombsKey is the flag that a tombstone may be in the marker hashes of tree root's
// requests: beside them, one for every tree on one server, the tree's own on a cluster.
func tombsKey(cluster bool, root string) string {
	if cluster {
		return "{" + root + "}:tombs"
	}
	return "tombs"
}

// slotsKey returns the key of an account's concurrency slots.
func slotsKey(root, id string) string { return "{" + root + "}:slots:" + id }

// ledgerKey returns the key of the index of ledger records where id is a side.
func ledgerKey(root, id string) string { return "{" + root + "}:ledger:" + id }

// transferKey returns the key of one ledger record.
func transferKey(root, transferID string) string { return "{" + root + "}:tr:" + transferID }

// idemKey returns the key of an idempotency record.
func idemKey(root, key string) string { return "{" + root + "}:idem:" + key }

// compactedKey is where the latest cutoff of a finished compaction pass is kept.
const compactedKey = "usage:compacted"

// indexKey returns the key of the id → root index entry.
func indexKey(id string) string { return "id:" + id }

// numsKey returns the key of a tree's numbers.
func numsKey(root string) string { return "{" + root + "}:nums" }

// ownedKey returns the key of the numbers an account owns.
func ownedKey(root, id string) string { return "{" + root + "}:onum:" + id }

// numIndexKey returns the key of the number → root index entry.
func numIndexKey(number string) string { return "num:" + number }

// numClaimsKey returns the key of the claims of a tree's numbers.
func numClaimsKey(root string) string { return "{" + root + "}:nclaim" }

// numIndexValue is the value of a number's index entry: its tree and its claim.
func numIndexValue(root, claim string) string { return root + "|" + claim }

// numIndexRoot splits the value of a number's index entry into its tree and its claim (""
// for an entry written before claims existed).
func numIndexRoot(v string) (root, claim string) {
	root, claim, _ = strings.Cut(v, "|")
	return root, claim
}

// mainsKey is the set of every main account.
const mainsKey = "mains"

// slotsKeyOf is the slots key of the account at accountKey k.
func slotsKeyOf(k string) string { return strings.Replace(k, "}:acct:", "}:slots:", 1) }

// accountIDOfKey is the account id of an accountKey (the key itself if it is not one).
func accountIDOfKey(k string) string {
	if i := strings.Index(k, "}:acct:"); i >= 0 {
		return k[i+len("}:acct:"):]
	}
	return k
}
