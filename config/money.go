package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tenantgw/gateway/policy/model"
)

// Money is a decimal amount exactly as written in the configuration, such
// as "0.0100". It is never read through a float: from YAML it is the
// literal text of the value, so price: 0.0100 and price: "0.0100" are the
// same. Validate reads it with model.ParseAmount, the gateway's one money
// grammar, and adds the rules of a configured price: no sign, and at most
// 9 integer digits.
type Money string

// maxPriceDigits is how many integer digits a configured price may have.
const maxPriceDigits = 9

// check reports whether m is a valid price, in words fit for an error.
func (m Money) check() error {
	s := string(m)
	whole, _, _ := strings.Cut(s, ".")
	_, err := model.ParseAmount(s)
	if err != nil || s[0] == '-' || s[0] == '+' || len(whole) > maxPriceDigits {
		return fmt.Errorf("%q is not a decimal amount with at most 6 fraction digits", s)
	}
	return nil
}

// UnmarshalYAML takes the literal text of a scalar; Validate checks it.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a decimal amount such as \"0.0100\", not a %s", kindName(n))
	}
	*m = Money(n.Value)
	return nil
}
