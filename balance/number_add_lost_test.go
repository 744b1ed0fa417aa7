package balance_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
)

// replyDropper is a TCP proxy in front of a Redis server that, once armed, lets skip script
// calls (EVALSHA) through, forwards the next one and drops its answer by closing the
// client's connection: the store ran the script, the client cannot know.
type replyDropper struct {
	ln    net.Listener
	armed atomic.Bool
	skip  atomic.Int32
}

func startReplyDropper(t *testing.T, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, target)
		}
	}()
	return p
}

func (p *replyDropper) serve(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp4", target)
	if err != nil {
		return
	}
	defer s.Close()
	var drop atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				s.Close()
				return
			}
			if bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) && p.armed.Load() && p.skip.Add(-1) < 0 &&
				p.armed.CompareAndSwap(true, false) {
				drop.Store(true) // before the server can answer
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if err != nil {
			return
		}
		if drop.Load() {
			return // the answer is lost with the connection
		}
		if _, err := c.Write(buf[:n]); err != nil && !errors.Is(err, io.EOF) {
			return
		}
	}
}

// TestAddNumberLostAnswer: when the answer of the add's script is lost (the script may have
// run), the add keeps its claim on the number index: the number cannot then go to a second
// tree. (The add reports the failure; the operator's retry answers number_taken, and the
// look-up shows who has it.)
func TestAddNumberLostAnswer(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	direct := testkit.OpenStore(t, balance.Options{Redis: "redis://" + addr + "/0"})
	p := startReplyDropper(t, addr)
	s := testkit.OpenStore(t, balance.Options{Redis: "redis://" + p.ln.Addr().String() + "/0"})
	m := testkit.NewAccount(t, direct, nil, "")
	other := testkit.NewAccount(t, direct, nil, "")
	if _, err := direct.AddNumber(ctx, m.ID, newNumber()); err != nil { // the script is loaded
		t.Fatal(err)
	}
	n := newNumber()
	p.skip.Store(1) // the claim of the index entry (number_claim.lua) goes through
	p.armed.Store(true)
	if _, err := s.AddNumber(ctx, m.ID, n); err == nil {
		t.Fatal("the add's answer was dropped, yet it succeeded")
	}
	if p.armed.Load() {
		t.Fatal("the proxy saw no script call")
	}
	got, err := direct.LookupNumber(ctx, n)
	if err != nil || got.AuthID != m.ID {
		t.Fatalf("after the lost answer: %+v %v (the script ran, so the number is m's)", got, err)
	}
	if _, err := direct.AddNumber(ctx, other.ID, n); !errors.Is(err, balance.ErrNumberTaken) {
		t.Fatalf("a second tree took the number: %v", err)
	}
}
