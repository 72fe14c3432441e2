-- Shared helpers (prepended to admit.lua and settle.lua).
-- Redis < 5 needs effects replication to write after TIME; later versions always use it.
if redis.replicate_commands then redis.replicate_commands() end
local DAY = 86400000000
local function int(x) return string.format('%d', x) end
local function num17(x) return string.format('%.17g', x) end
local function now_us(shift)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]) + shift
end
-- A rate key holds "<TAT µs>|<L>"; returns TAT (now when absent) and the L it was written with.
local function read_tat(key, now, L)
  local raw = redis.call('GET', key)
  if not raw then return now, L end
  local ts, ls = string.match(raw, '^([^|]+)|(%d+)$')
  return tonumber(ts) or now, tonumber(ls) or L
end
local function write_tat(key, tat, L, now, margin_ms)
  if tat > now then
    redis.call('SET', key, num17(tat) .. '|' .. int(L), 'PX', int(math.ceil((tat - now) / 1000) + margin_ms))
  else
    redis.call('DEL', key)
  end
end
