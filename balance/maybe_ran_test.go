package balance_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
)

// TestMaybeRan: a call that could not reach the store certainly did not run; one whose
// answer never came may have.
func TestMaybeRan(t *testing.T) {
	ctx := context.Background()
	req := &balance.AdmitRequest{Keys: balance.AdmitKeys("MA_X", "MA_X", nil), Price: 1, Route: "r", RequestID: []byte("q")}
	var d balance.Decision

	// Nothing listens: a dial error.
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + dead + "/0", DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Admit(ctx, req, &d)
	if err == nil || balance.MaybeRan(err) {
		t.Fatalf("refused connection: err %v, MaybeRan %v", err, balance.MaybeRan(err))
	}

	// A server that takes the command and never answers: a read timeout.
	mute, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	s2, err := balance.Open(ctx, balance.Options{Redis: "redis://" + mute.Addr().String() + "/0", ReadTimeout: 200 * time.Millisecond, NoAdmitBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = s2.Admit(ctx, req, &d)
	if err == nil || !balance.MaybeRan(err) {
		t.Fatalf("lost answer: err %v, MaybeRan %v", err, balance.MaybeRan(err))
	}
}
