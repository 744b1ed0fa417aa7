package balance_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

// tariffProbe answers, for each case of ARGV (rate, first, next, fee, d, budget, limit),
// the Lua tariff's billed(d), cost(d) and longest(budget, limit).
const tariffProbe = `
local out = {}
for i = 1, #ARGV, 7 do
  local tf = {tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])}
  local d, budget, limit = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  out[#out + 1] = tariff_billed(tf, d)
  out[#out + 1] = tariff_cost(tf, d)
  out[#out + 1] = tariff_longest(tf, budget, limit)
end
return out
`

// TestTariffLuaMatchesGo holds the Lua tariff (lua/tariff.lua) to model.Tariff, which its
// own test holds to a brute-force reference, on the increments of the contract and the
// boundaries 0, 1, i, i+1, i+f, at large rates and durations where a double must stay
// exact, on the embedded store and a real Redis.
func TestTariffLuaMatchesGo(t *testing.T) {
	type tcase struct {
		tf       model.Tariff
		d, limit int64
		budget   model.Amount
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var cases []tcase
	for _, inc := range [][2]int64{{1, 1}, {6, 6}, {30, 6}, {60, 1}, {60, 60}} {
		i, f := inc[0], inc[1]
		for _, rate := range []model.Amount{0, 1, 59, 61, 12_000, 1_000_000, 625_000_000_000} {
			for _, fee := range []model.Amount{0, 3, 5_000} {
				tf := model.Tariff{Rate: rate, First: i, Next: f, ConnectFee: fee}
				for _, d := range []int64{0, 1, i - 1, i, i + 1, i + f - 1, i + f, i + f + 1, 14_400, rng.Int64N(20_000)} {
					limit := 1 + rng.Int64N(14_400)
					if !tf.Covers(d) || !tf.Covers(limit) {
						continue // config never uses a tariff there
					}
					budget := tf.Cost(d)
					switch rng.IntN(3) {
					case 0:
						budget--
					case 1:
						budget = model.Amount(rng.Int64N(int64(tf.Cost(limit)) + 2))
					}
					cases = append(cases, tcase{tf, d, limit, budget})
				}
			}
		}
	}
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		script := redis.NewScript(balance.TariffLua() + tariffProbe)
		const chunk = 200
		for lo := 0; lo < len(cases); lo += chunk {
			hi := min(lo+chunk, len(cases))
			var args []any
			for _, c := range cases[lo:hi] {
				args = append(args, int64(c.tf.Rate), c.tf.First, c.tf.Next, int64(c.tf.ConnectFee), c.d, int64(c.budget), c.limit)
			}
			// the key only places the call on a node of a cluster
			v, err := script.Run(context.Background(), s.Client(), []string{"{tariff}"}, args...).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			for k, c := range cases[lo:hi] {
				got := v[3*k : 3*k+3]
				want := []int64{c.tf.Billed(c.d), int64(c.tf.Cost(c.d)), c.tf.Longest(c.budget, c.limit)}
				if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
					t.Fatalf("%+v d=%d budget=%d limit=%d: Lua %v, Go %v", c.tf, c.d, c.budget, c.limit, got, want)
				}
			}
		}
	})
}
