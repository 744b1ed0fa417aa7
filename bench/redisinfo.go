package bench

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisSample is what Redis says of itself in INFO: its CPU time (used_cpu_user +
// used_cpu_sys, seconds), its script calls (EVALSHA and EVAL in commandstats: how the gateway
// runs its scripts, the admit above all) and the microseconds they took, and used_memory.
type redisSample struct {
	cpu          float64
	scriptCalls  int64
	scriptMicros int64
	memory       int64
	ok           bool
}

// parseRedisInfo reads the fields redisSample needs from INFO text (any sections); ok is false
// unless the CPU figures are there.
func parseRedisInfo(info string) redisSample {
	var s redisSample
	var user, sys bool
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, found := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !found {
			continue
		}
		switch k {
		case "used_cpu_user", "used_cpu_sys":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			s.cpu += f
			user, sys = user || k == "used_cpu_user", sys || k == "used_cpu_sys"
		case "used_memory":
			s.memory, _ = strconv.ParseInt(v, 10, 64)
		case "cmdstat_evalsha", "cmdstat_eval":
			// calls=N,usec=N,usec_per_call=F,…
			for _, kv := range strings.Split(v, ",") {
				name, n, _ := strings.Cut(kv, "=")
				i, err := strconv.ParseInt(n, 10, 64)
				if err != nil {
					continue
				}
				switch name {
				case "calls":
					s.scriptCalls += i
				case "usec":
					s.scriptMicros += i
				}
			}
		}
	}
	s.ok = user && sys
	return s
}

// redisInfo asks Redis for its CPU, commandstats and memory sections.
func redisInfo(ctx context.Context, c *redis.Client) redisSample {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var b strings.Builder
	for _, section := range []string{"cpu", "commandstats", "memory"} {
		s, err := c.Info(ctx, section).Result()
		if err != nil {
			return redisSample{}
		}
		b.WriteString(s)
	}
	return parseRedisInfo(b.String())
}
