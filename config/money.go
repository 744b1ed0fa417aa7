package config

import (
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"
)

// Money is a decimal amount exactly as written in the configuration, such
// as "0.0100". It is never read through a float: from YAML it is the
// literal text of the value, so price: 0.0100 and price: "0.0100" are the
// same. Validate accepts 1 to 9 integer digits and at most 6 fraction
// digits, with no sign and no exponent; package balance converts it to
// micro-units.
type Money string

var moneyPattern = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,6})?$`)

// check reports whether m is a valid amount, in words fit for an error.
func (m Money) check() error {
	if !moneyPattern.MatchString(string(m)) {
		return fmt.Errorf("%q is not a decimal amount with at most 6 fraction digits", string(m))
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
