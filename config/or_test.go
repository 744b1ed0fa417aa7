package config

import (
	"testing"
	"time"
)

func TestOrKeepsPositiveAndDefaultsTheRest(t *testing.T) {
	for _, c := range []struct{ v, want int }{{7, 7}, {1, 1}, {0, 42}, {-3, 42}} {
		if got := Or(c.v, 42); got != c.want {
			t.Errorf("Or(%d, 42) = %d, want %d", c.v, got, c.want)
		}
	}
	for _, c := range []struct{ v, want time.Duration }{{time.Millisecond, time.Millisecond}, {0, time.Hour}, {-time.Second, time.Hour}} {
		if got := Or(c.v, time.Hour); got != c.want {
			t.Errorf("Or(%v, 1h) = %v, want %v", c.v, got, c.want)
		}
	}
}
