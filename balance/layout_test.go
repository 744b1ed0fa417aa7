package balance_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
)

// apiWords are account hash fields spelled like a word of the API (a JSON key or value, a
// status) or a common word, which the search below cannot tell apart from the field.
var apiWords = map[string]bool{"id": true, "parent": true, "root": true, "depth": true, "name": true,
	"desc": true, "email": true, "status": true, "kyc_mode": true, "kyc_status": true, "own": true,
	"credit": true, "currency": true, "created": true, "updated": true, "last_used": true, "tok": true,
	"held": true, "rate": true}

// TestLayoutStaysInBalance checks that no Go file outside package balance spells a field
// name of the account hash as a string: the Redis layout is balance's alone (others say
// what changes with typed values, such as balance.Change and model.Permission).
func TestLayoutStaysInBalance(t *testing.T) {
	var names []string
	for _, f := range balance.AccountHashFields() {
		if !apiWords[f] {
			names = append(names, f)
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d distinctive field names: %v", len(names), names)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(root, path); rel == "balance" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, n := range names {
				if strings.Contains(line, `"`+n+`"`) || strings.Contains(line, `'`+n+`'`) {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d spells the account hash field %q", rel, i+1, n)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
