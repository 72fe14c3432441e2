-- Settle (or release) one reservation: token-rate corrections and budget updates, detecting
-- threshold crossings atomically with the update.
--
-- KEYS: token-rate keys (nr), then budget keys (nb, with period), then lease keys (nb).
-- ARGV: nr, nb, member, rate_margin_ms, budget_margin_ms, shift_us,
--       per token rate: L, W_us, delta (actual - estimate; may be negative)
--       per budget:     est, actual, limit, alert (-1 = none), end_us (0 = never)
-- Returns {j, 'a'|'x', spent, ...} for every line crossed.
local nr = tonumber(ARGV[1])
local nb = tonumber(ARGV[2])
local member = ARGV[3]
local rmargin = tonumber(ARGV[4])
local bmargin = tonumber(ARGV[5])
local now = now_us(tonumber(ARGV[6]))
local RA = 6
local BA = RA + nr * 3

for i = 1, nr do
  local o = RA + (i - 1) * 3
  local L = tonumber(ARGV[o + 1])
  local W = tonumber(ARGV[o + 2])
  local delta = tonumber(ARGV[o + 3])
  if L > 0 and delta ~= 0 then
    local raw = redis.call('EXISTS', KEYS[i]) == 1
    local tat, lcur = read_tat(KEYS[i], now, L)
    if lcur <= 0 then lcur = L end
    local T = W / lcur -- one unit of the limit the key holds now
    if delta > 0 then
      write_tat(KEYS[i], math.max(tat, now) + delta * T, lcur, now, rmargin)
    elseif raw then
      -- Below now is the same as an empty bucket.
      write_tat(KEYS[i], tat + delta * T, lcur, now, rmargin)
    end
  end
end

local out = {}
for j = 1, nb do
  local o = BA + (j - 1) * 5
  local est = tonumber(ARGV[o + 1])
  local actual = tonumber(ARGV[o + 2])
  local limit = tonumber(ARGV[o + 3])
  local alert = tonumber(ARGV[o + 4])
  local pend = tonumber(ARGV[o + 5])
  local key = KEYS[nr + j]
  -- Only give the reservation back if its lease was not already reaped.
  if est > 0 and redis.call('ZREM', KEYS[nr + nb + j], member .. ':' .. ARGV[o + 1]) == 1 then
    if redis.call('HINCRBY', key, 'r', int(-est)) < 0 then redis.call('HSET', key, 'r', 0) end
  end
  if actual > 0 then
    local s = redis.call('HINCRBY', key, 's', ARGV[o + 2])
    if pend > 0 then redis.call('PEXPIREAT', key, int(pend / 1000 + bmargin)) end
    if alert >= 0 and s >= alert and redis.call('HGET', key, 'a') ~= '1' then
      redis.call('HSET', key, 'a', 1)
      out[#out + 1] = j
      out[#out + 1] = 'a'
      out[#out + 1] = s
    end
    if s >= limit and redis.call('HGET', key, 'x') ~= '1' then
      redis.call('HSET', key, 'x', 1)
      out[#out + 1] = j
      out[#out + 1] = 'x'
      out[#out + 1] = s
    end
  end
end
return out
