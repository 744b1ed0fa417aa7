package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a non-negative time.Duration written as Go writes durations:
// "250ms", "10s", "24h", "1h30m". A bare number has no unit and is refused.
type Duration time.Duration

// ParseDuration parses s as a Duration, refusing negative values.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"250ms\", \"10s\" or \"24h\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return Duration(d), nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d as time.Duration does, e.g. "10s", "24h0m0s".
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a scalar such as "10s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration such as \"10s\", not a %s", kindName(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes d as UnmarshalYAML reads it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
