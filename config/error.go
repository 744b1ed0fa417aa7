package config

import "strings"

// Error is one problem with one setting.
type Error struct {
	// Setting is the setting's path, e.g. "routes[2].price",
	// "upstreams.voice.timeout", or the environment variable's name for an
	// unknown variable. Empty for a problem with the file as a whole.
	Setting string
	// Reason says what is wrong, e.g. "must be > 0".
	Reason string
	// Source says where the value came from, when known: "file:line" or
	// "GATEWAY_…". Only Load fills it in.
	Source string
}

// Error returns "setting: reason (source)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Setting != "" {
		b.WriteString(e.Setting)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Source != "" {
		b.WriteString(" (")
		b.WriteString(e.Source)
		b.WriteString(")")
	}
	return b.String()
}
