package model

import (
	"go/build"
	"strings"
	"testing"
)

// TestLeaf pins the package's place in the import graph: it imports nothing of the gateway's,
// so every other package can use its records without depending on each other.
func TestLeaf(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/tenantgw/gateway") {
			t.Errorf("model imports %s", imp)
		}
	}
}
