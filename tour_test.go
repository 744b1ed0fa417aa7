package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeTour runs the README's tour — the shell lines of its "A tour" section, as they
// are written, with bash and curl — against the built binary started as the tour says (no
// configuration: the embedded store, the sandbox upstreams, a generated operator token kept
// in data/operator_token), on free ports instead of 8080 and 8081. The sandbox talks at most
// a second here (sandbox_talk), well inside the tour's wait. What the tour tells the reader
// must be what it prints, in order: the number moved to the subaccount, the call's hold,
// the money held while the call talks, the settlement by the sandbox voice backend, and the
// refusals.
func TestReadmeTour(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## A tour\n.*?\n```sh\n(.*?)\n```\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no sh block in its \"A tour\" section")
	}
	bin := scBuild(t)
	in := scStart(t, bin, "tour", map[string]string{"GATEWAY_OPERATOR_TOKEN": "", "GATEWAY_SANDBOX_TALK": "1s"})
	script := strings.NewReplacer("localhost:8080", strings.TrimPrefix(in.public, "http://"),
		"localhost:8081", strings.TrimPrefix(in.operator, "http://")).Replace(string(m[1]))

	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = filepath.Dir(in.logPath) // where data/operator_token is
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() != 0 {
		t.Fatalf("the tour: %v\nstderr: %s\nstdout: %s\ngateway log: %s", err, stderr.String(), stdout.String(), in.logTail())
	}
	out := stdout.String()
	steps := []string{
		`"name":"Acme Telecom"`,                               // 1.
		`"name":"Support Team"`,                               // 2.
		`"total_count":1`,                                     // 3.
		`"to_balance_after":"10.00"`,                          // 4.
		`{"number":"+14155550100","auth_id":"MA_`,             // 5. added to the main account,
		`{"number":"+14155550100","auth_id":"SA_`,             //    moved to the subaccount
		"HTTP/1.1 201",                                        // 6. the call
		"X-Charge: 0.01",                                      //
		"X-Call-Hold-Id: HL_",                                 //
		"X-Call-Max-Duration: 600",                            //
		`"call_uuid":"`,                                       //
		`"balance":"9.99","held":"0.12"`,                      // 7. held while it talks
		`"available":"9.87"`,                                  //
		`"status":"open","granted_seconds":600,"held":"0.12"`, //
		`"balance":"9.978","held":"0.00"`,                     // 8. settled by the sandbox
		`"available":"9.978"`,                                 //
		`"code":"NUMBER_NOT_OWNED"`,                           // 9.
		`"status":"suspended"`,                                // 10.
		`"code":"ACCOUNT_SUSPENDED"`,                          //
	}
	rest := out
	for _, want := range steps {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("the tour's output lacks %q where expected (after the steps before it):\n%s", want, out)
		}
		rest = rest[i+len(want):]
	}
}
