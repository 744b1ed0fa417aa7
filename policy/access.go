package policy

import (
	"github.com/tenantgw/gateway/policy/model"
)

// Reaches is the access rule: the caller may act on target when target is the caller or
// one of its descendants, i.e. when the caller is target itself or appears in target's
// chain of ancestors. Subaccount credentials therefore never reach a parent or a sibling.
func Reaches(callerID, targetID string, targetChain []string) bool {
	if callerID == targetID {
		return true
	}
	for _, id := range targetChain {
		if id == callerID {
			return true
		}
	}
	return false
}

// IsActive reports whether a and every ancestor are active. ancestors are a's chain
// (parent first) as records.
func IsActive(a *model.Account, ancestors []*model.Account) bool {
	if a.Status != model.StatusActive {
		return false
	}
	for _, p := range ancestors {
		if p.Status != model.StatusActive {
			return false
		}
	}
	return true
}

// KYCBlockedSelf reports whether a's own KYC blocks calls: customer_use until verified.
func KYCBlockedSelf(a *model.Account) bool {
	return a.KYCMode == model.KYCCustomer && a.KYCStatus != model.KYCVerified
}

// KYCCallsBlocked is the effective kyc_calls_blocked: a's own block or any ancestor's (a
// personal_use account inherits its parent's KYC). The admit script applies the same rule.
func KYCCallsBlocked(a *model.Account, ancestors []*model.Account) bool {
	if KYCBlockedSelf(a) {
		return true
	}
	for _, p := range ancestors {
		if KYCBlockedSelf(p) {
			return true
		}
	}
	return false
}
