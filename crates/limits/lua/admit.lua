-- Atomic admission: checks every rate limit (GCRA) and budget of one request and applies all
-- charges only if every one passes. Time comes from the Redis server so replicas agree.
--
-- KEYS: rate keys (nr; value "<TAT µs>|<L>"), then budget key bases (nb), then lease key bases (nb).
-- ARGV: nr, nb, burst ('w'|'s'), lease_us, member, rate_margin_ms, budget_margin_ms, shift_us,
--       per rate limit:  L, W_us, n
--       per budget:      reset ('n'|'d'|'w'|'m'), limit, alert (-1 = none), est, seed_label, seed,
--                        usage reset (unix ms, 0 = never)
-- Returns {0, 'b', j} | {0, 'r', i, wait_us}
--       | {1, now_us, (label_j, end_us_j)..., (remaining_i, reset_us_i)...}
local nr = tonumber(ARGV[1])
local nb = tonumber(ARGV[2])
local strict = ARGV[3] == 's'
local lease = tonumber(ARGV[4])
local member = ARGV[5]
local rmargin = tonumber(ARGV[6])
local bmargin = tonumber(ARGV[7])
local now = now_us(tonumber(ARGV[8]))
local RA = 8
local BA = RA + nr * 3

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m
  if mp < 10 then m = mp + 3 else m = mp - 9 end
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- The natural period containing now: label, start and end (µs since the epoch, 0 = never).
local function natural(reset)
  if reset == 'n' then return 'all', 0, 0 end
  local day = math.floor(now / DAY)
  if reset == 'd' then
    local y, m, d = civil_from_days(day)
    return string.format('d%04d-%02d-%02d', y, m, d), day * DAY, (day + 1) * DAY
  elseif reset == 'w' then
    local s = day - ((day + 4) % 7)
    local y, m, d = civil_from_days(s)
    return string.format('w%04d-%02d-%02d', y, m, d), s * DAY, (s + 7) * DAY
  end
  local y, m = civil_from_days(day)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return string.format('m%04d-%02d', y, m), days_from_civil(y, m, 1) * DAY,
    days_from_civil(ny, nm, 1) * DAY
end

-- The period containing now: label and end. A usage reset inside the natural period starts
-- a period of its own (`<label>@<reset ms>`), as `Period` does in Rust.
local function period(reset, restart_ms)
  local label, pstart, pend = natural(reset)
  local r = restart_ms * 1000
  if restart_ms > 0 and r >= pstart and (pend == 0 or r < pend) then
    label = label .. '@' .. int(restart_ms)
  end
  return label, pend
end

-- Check every rate limit.
local new_tat, info = {}, {}
local worst_wait, worst_i = -1, 0
for i = 1, nr do
  local o = RA + (i - 1) * 3
  local L = tonumber(ARGV[o + 1])
  local W = tonumber(ARGV[o + 2])
  local n = tonumber(ARGV[o + 3])
  local wait = nil
  if L <= 0 then
    wait = W
  else
    local T = W / L
    local cap = L
    if strict then cap = 1 end
    local tat, lold = read_tat(KEYS[i], now, L)
    if lold ~= L and lold > 0 and tat > now then
      -- The limit was edited: keep the number of units in the bucket.
      tat = now + (tat - now) * lold / L
    end
    local base = math.max(tat, now)
    local level = base - now
    local cells = math.min(math.max(n, 1), cap)
    local excess = level + cells * T - cap * T
    if excess > 1 then -- 1 µs tolerance for float rounding
      wait = excess
    else
      local nt = base + n * T
      local lv = nt - now
      local rem = math.floor((cap * T - lv) / T + 1e-6)
      if rem < 0 then rem = 0 end
      new_tat[i] = nt
      info[i] = {rem, math.ceil(lv)}
    end
  end
  if wait and wait > worst_wait then worst_wait, worst_i = wait, i end
end

-- Check every budget (creating, seeding and reaping ledgers as needed).
local bkey, lkey, labels, ends = {}, {}, {}, {}
local budget_fail = 0
for j = 1, nb do
  local o = BA + (j - 1) * 7
  local reset = ARGV[o + 1]
  local limit = tonumber(ARGV[o + 2])
  local alert = tonumber(ARGV[o + 3])
  local label, pend = period(reset, tonumber(ARGV[o + 7]))
  local key = KEYS[nr + j] .. ':' .. label
  local lk = KEYS[nr + nb + j] .. ':' .. label
  bkey[j], lkey[j], labels[j], ends[j] = key, lk, label, pend
  if redis.call('EXISTS', key) == 0 then
    local s = 0
    if ARGV[o + 5] == label then s = tonumber(ARGV[o + 6]) end
    local a, x = 0, 0
    if alert >= 0 and s >= alert then a = 1 end
    if s >= limit then x = 1 end
    redis.call('HSET', key, 's', int(s), 'r', 0, 'a', a, 'x', x)
    if pend > 0 then redis.call('PEXPIREAT', key, int(pend / 1000 + bmargin)) end
  end
  -- Reservations whose lease ran out were never settled (their replica died): give them back.
  local expired = redis.call('ZRANGEBYSCORE', lk, '-inf', int(now))
  if #expired > 0 then
    local back = 0
    for _, m in ipairs(expired) do back = back + (tonumber(string.match(m, ':(%d+)$')) or 0) end
    redis.call('ZREMRANGEBYSCORE', lk, '-inf', int(now))
    redis.call('HINCRBY', key, 'r', int(-back))
  end
  local v = redis.call('HMGET', key, 's', 'r')
  local s, r = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if r < 0 then
    redis.call('HSET', key, 'r', 0)
    r = 0
  end
  -- Refused only once nothing is left (spent + in flight); a larger estimate still passes.
  if budget_fail == 0 and s + r >= limit then budget_fail = j end
end

if budget_fail > 0 then return {0, 'b', budget_fail} end
if worst_i > 0 then return {0, 'r', worst_i, math.ceil(worst_wait)} end

-- Everything passed: apply.
for i = 1, nr do
  write_tat(KEYS[i], new_tat[i], tonumber(ARGV[RA + (i - 1) * 3 + 1]), now, rmargin)
end
for j = 1, nb do
  local o = BA + (j - 1) * 7
  local est = tonumber(ARGV[o + 4])
  if est > 0 then
    redis.call('HINCRBY', bkey[j], 'r', ARGV[o + 4])
    redis.call('ZADD', lkey[j], int(now + lease), member .. ':' .. ARGV[o + 4])
    if ends[j] > 0 then redis.call('PEXPIREAT', lkey[j], int(ends[j] / 1000 + bmargin)) end
  end
end
local out = {1, now}
for j = 1, nb do
  out[#out + 1] = labels[j]
  out[#out + 1] = ends[j]
end
for i = 1, nr do
  out[#out + 1] = info[i][1]
  out[#out + 1] = info[i][2]
end
return out
