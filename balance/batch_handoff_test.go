package balance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// answerAll is an exec that answers every call of a batch at once, as if the script had run.
func answerAll(batch []*admitCall, _ *batchWork) {
	for _, c := range batch {
		c.done <- struct{}{}
	}
}

func stubBatcher(t testing.TB, exec func([]*admitCall, *batchWork)) *admitBatcher {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: exec is replaced
	t.Cleanup(func() { rdb.Close() })
	b := newAdmitBatcher(rdb, time.Second, time.Minute, time.Minute)
	b.exec = exec
	return b
}

// TestBatcherClose: admits queued when close begins are all answered (run in a batch, or
// ErrUnavailable: the workers pick either), none waits forever, and an admit after close is
// refused at once.
func TestBatcherClose(t *testing.T) {
	release := make(chan struct{})
	var ran sync.WaitGroup
	ran.Add(1)
	first := true
	b := stubBatcher(t, func(batch []*admitCall, w *batchWork) {
		if first { // hold the first batch until close has begun, so that others queue behind it
			first = false
			ran.Done()
			<-release
		}
		answerAll(batch, w)
	})
	const n = 100
	errs := make(chan error, n)
	req := &AdmitRequest{}
	go func() { var d Decision; errs <- b.admit(req, &d) }()
	ran.Wait()
	for i := 1; i < n; i++ {
		go func() { var d Decision; errs <- b.admit(req, &d) }()
	}
	for len(b.in) < n-1 { // every admit queued behind the held batch
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { b.close(); close(closed) }()
	time.Sleep(10 * time.Millisecond) // close is waiting for the workers
	close(release)
	answered := 0
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			answered++
			if err != nil && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("admit: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d admits answered; the rest wait forever", answered, n)
		}
	}
	<-closed
	go func() { var d Decision; errs <- b.admit(req, &d) }()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("an admit after close: %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an admit after close waits forever")
	}
}

// BenchmarkAdmitHandoff measures what the batcher costs an admit besides the store: queueing
// it, a worker taking it into a batch, answering it and the caller waking up. The batch is
// answered at once (no script runs), so ns/op is the hand-off alone, with 64 callers at once
// as under load.
func BenchmarkAdmitHandoff(b *testing.B) {
	bt := stubBatcher(b, answerAll)
	defer bt.close()
	req := &AdmitRequest{}
	b.SetParallelism(32) // 64 callers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var d Decision
		for pb.Next() {
			if err := bt.admit(req, &d); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
