package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		out, err string // substrings expected on stdout / stderr
	}{
		{[]string{"--help"}, 0, "gateway serve [--config FILE]", ""},
		{[]string{"help"}, 0, "gateway bench", ""},
		{[]string{"version"}, 0, "gateway " + version, ""},
		{nil, 2, "", "Usage:"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"serve", "--help"}, 0, "", "Usage: gateway serve [--config FILE]"},
		{[]string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"serve", "--config", "/nonexistent/gateway.yaml"}, 1, "", "reading the configuration file"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errb.String(), c.err) {
			t.Errorf("gateway %v: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out.String(), errb.String())
		}
	}
}
