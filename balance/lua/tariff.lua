-- tariff: the price of a call by its duration (API.md §8), as model.Tariff in Go; tests hold
-- the two to the same answers. A tariff is {rate µ/min, first s, next s, connect fee µ}. A
-- valid tariff keeps rate × the longest duration within MAX_AMOUNT, so every product here
-- is an exact integer; divisions go through math.fmod (exact) so no quotient is rounded.
local function idiv(x, y) -- floor(x / y) for integers x >= 0, y > 0
  return (x - math.fmod(x, y)) / y
end
-- tariff_billed: the seconds a call of d seconds is billed (0 for d <= 0).
local function tariff_billed(tf, d)
  if d <= 0 then return 0 end
  if d <= tf[2] then return tf[2] end
  return tf[2] + idiv(d - tf[2] + tf[3] - 1, tf[3]) * tf[3]
end
-- tariff_cost: connect fee + ceil(rate × billed / 60) µ; 0 for d <= 0.
local function tariff_cost(tf, d)
  local b = tariff_billed(tf, d)
  if b == 0 then return 0 end
  return tf[4] + idiv(tf[1] * b + 59, 60)
end
-- tariff_longest: the longest duration of at most limit seconds that budget µ pays for:
-- limit when its cost fits, else the largest billed duration whose cost fits, else 0.
local function tariff_longest(tf, budget, limit)
  if limit <= 0 then return 0 end
  if tariff_cost(tf, limit) <= budget then return limit end
  local room = budget - tf[4]
  if room < 0 then return 0 end
  local top = idiv(60 * room, tf[1])
  if top < tf[2] then return 0 end
  return tf[2] + idiv(top - tf[2], tf[3]) * tf[3]
end
