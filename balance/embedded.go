package balance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The embedded store is miniredis (a Redis server in Go that runs the same Lua scripts) on a
// loopback port, so that every code path is the one used against real Redis. It persists to
// DataDir/store.json: atomically (write, fsync, rename) every snapshotInterval and on close.
// A graceful stop therefore loses nothing; a crash loses at most the last interval.

const snapshotInterval = 2 * time.Second

type embedded struct {
	pw   string // random password: the loopback port is not open to other local users
	m    *miniredis.Miniredis
	dir  string
	rdb  *redis.Client
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex // serialises snapshots
}

// snapshotScript reads every key atomically (the script runs alone), so a snapshot never
// holds half of a money movement.
var snapshotScript = redis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k)
  if type(t) == 'table' then t = t['ok'] end
  local v
  if t == 'string' then v = {redis.call('GET', k)}
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  else v = {} end
  out[#out+1] = {k, t, redis.call('PTTL', k), v}
end
return out`)

type snapEntry struct {
	Key  string   `json:"k"`
	Type string   `json:"t"`
	PTTL int64    `json:"ttl_ms,omitempty"`
	Data []string `json:"v"`
}

func startEmbedded(dir string) (*embedded, error) {
	m := miniredis.NewMiniRedis()
	pw := randomPassword()
	m.RequireAuth(pw)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	e := &embedded{pw: pw, m: m, dir: dir, stop: make(chan struct{}), done: make(chan struct{})}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			m.Close()
			return nil, fmt.Errorf("store.data_dir: %w", err)
		}
		if err := e.load(); err != nil {
			m.Close()
			return nil, err
		}
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: m.Addr(), Password: pw, Protocol: 2})
	go e.loop()
	return e, nil
}

func (e *embedded) addr() string { return e.m.Addr() }

func (e *embedded) file() string { return filepath.Join(e.dir, "store.json") }

// loop makes TTLs run (miniredis only expires keys when told time has passed) and
// snapshots periodically.
func (e *embedded) loop() {
	defer close(e.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last, lastSnap := time.Now(), time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-tick.C:
			e.m.FastForward(now.Sub(last))
			last = now
			if e.dir != "" && now.Sub(lastSnap) >= snapshotInterval {
				lastSnap = now
				_ = e.snapshot() // a failed periodic snapshot is retried next interval
			}
		}
	}
}

func (e *embedded) snapshot() error {
	if e.dir == "" {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	raw, err := snapshotScript.Run(ctx, e.rdb, nil).Slice()
	if err != nil {
		return fmt.Errorf("embedded store snapshot: %w", err)
	}
	entries := make([]snapEntry, 0, len(raw))
	for _, r := range raw {
		row := r.([]interface{})
		en := snapEntry{Key: row[0].(string), Type: row[1].(string), PTTL: row[2].(int64)}
		if en.PTTL < 0 {
			en.PTTL = 0
		}
		for _, v := range row[3].([]interface{}) {
			en.Data = append(en.Data, v.(string))
		}
		entries = append(entries, en)
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	tmp := e.file() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("embedded store snapshot: %w", err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("embedded store snapshot: %w", err)
	}
	if err := os.Rename(tmp, e.file()); err != nil {
		return fmt.Errorf("embedded store snapshot: %w", err)
	}
	return nil
}

func (e *embedded) load() error {
	b, err := os.ReadFile(e.file())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store.data_dir: reading snapshot: %w", err)
	}
	var entries []snapEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return fmt.Errorf("store.data_dir: snapshot %s is corrupt: %w", e.file(), err)
	}
	for _, en := range entries {
		switch en.Type {
		case "string":
			if len(en.Data) == 1 {
				if err := e.m.Set(en.Key, en.Data[0]); err != nil {
					return err
				}
			}
		case "hash":
			e.m.HSet(en.Key, en.Data...)
		case "zset":
			for i := 0; i+1 < len(en.Data); i += 2 {
				score, err := strconv.ParseFloat(en.Data[i+1], 64)
				if err != nil {
					return fmt.Errorf("store.data_dir: snapshot key %s: %w", en.Key, err)
				}
				if _, err := e.m.ZAdd(en.Key, score, en.Data[i]); err != nil {
					return err
				}
			}
		case "set":
			if _, err := e.m.SetAdd(en.Key, en.Data...); err != nil {
				return err
			}
		case "list":
			if _, err := e.m.Push(en.Key, en.Data...); err != nil {
				return err
			}
		}
		if en.PTTL > 0 {
			e.m.SetTTL(en.Key, time.Duration(en.PTTL)*time.Millisecond)
		}
	}
	return nil
}

func (e *embedded) close() error {
	close(e.stop)
	<-e.done
	err := e.snapshot()
	e.rdb.Close()
	e.m.Close()
	return err
}

func randomPassword() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS RNG never fails on Linux
	}
	return hex.EncodeToString(b[:])
}
