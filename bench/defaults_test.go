package bench

import (
	"net"
	"testing"

	"github.com/tenantgw/gateway/config"
)

// TestDefaultsReachADefaultGateway: with no flags, bench drives a gateway started with no
// configuration, on its default public and operator listeners.
func TestDefaultsReachADefaultGateway(t *testing.T) {
	c := config.Default()
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil || DefaultTarget != "http://127.0.0.1:"+port || DefaultOperator != "http://"+c.OperatorListen {
		t.Errorf("target %s and operator %s, default listeners %s and %s", DefaultTarget, DefaultOperator, c.Listen, c.OperatorListen)
	}
}
