package ratelimit

import "github.com/rediskit/rediskit/internal/script"

// The limiters' Lua scripts each decide a whole batch of requests in one
// call (see scriptBatcher): KEYS are the keys of each entry in turn (the
// same number each), ARGV the limiter's constants, then each entry's cost
// n, its repeat count m and, for the counters, its TTLs in ms. An entry is
// m decisions of cost n on the same keys (concurrent callers on one hot
// key, merged by the client): the script decides them one after the other
// and replies once per entry, how many of the m it admitted (always the
// first ones) and the state before them, from which the client derives each
// caller's reply. They read KEYS with one MGET (readKeys), parse a key's
// value the first time an entry uses it, decide the entries in order
// against the running state (so concurrent decisions on one hot key are
// exact, whatever their number), and write each changed key once at the
// end. A key holding something else than what the script writes (a value
// it cannot read, or another type, found when a SET … NX of a key MGET saw
// as missing fails) fails the entries that use it (failForeign). Replies
// are integers, so they need no string parsing.
//
// Server time is what they are written for (a batch of a hundred decisions
// spends most of Redis' time in them): a redis.call costs about as much as
// a command of its own, so each key is read once (one MGET for all) and
// written at most once; the running state lives in tables indexed by the
// key's string (interned by Lua: a pointer lookup), the keys first seen in
// arrays; numbers of ARGV are converted once per distinct text (num), and
// counter entries are decided in closed form rather than decision by
// decision.

// readKeys is the scripts' prelude: val[i] is the value of KEYS[i] (false:
// missing or not a string), read with one MGET per 1,000 keys (Lua's
// unpack limit); a key repeated in KEYS is read again, which is cheaper
// than removing repeats first. The library functions the loops call are
// locals (a global is a table lookup per use). num(s) is tonumber(s),
// computed once per distinct s (ARGV repeats a few costs and TTLs many
// times).
const readKeys = `
local tonumber, floor, ceil = tonumber, math.floor, math.ceil
local val = {}
for i = 1, #KEYS, 1000 do
  local part = redis.call('MGET', unpack(KEYS, i, math.min(i + 999, #KEYS)))
  if i == 1 then val = part else for j = 1, #part do val[i + j - 1] = part[j] end end
end
local nums = {}
local function num(s)
  local v = nums[s]
  if v == nil then v = tonumber(s); nums[s] = v end
  return v
end
`

// failForeign is the scripts' epilogue: every entry (per_keys keys and
// width reply values each) on a key in bad replies -1 first.
const failForeign = `
if next(bad) then
  for d = 0, #KEYS / per_keys - 1 do
    for i = 1, per_keys do
      if bad[KEYS[d * per_keys + i]] then out[d * width + 1] = -1 end
    end
  end
end
return out
`

// counterScript is the all-or-nothing windowed counter. ARGV: k (counters
// per decision), the k limits, then per entry its cost n, its repeat count
// m and the k counters' TTLs in ms. Each of the m decisions increments all
// k counters by n if n fits under every limit; otherwise it increments none
// and reports the first limit that does not fit (and so do the entry's
// remaining decisions, which would not fit either): the entry admits the
// least, over its counters, of how many times n fits under the limit (at
// most m). A counter the batch changed is written once, by SET with its TTL
// (the time to its window's end plus the grace, as the first request on it
// computed it: rewriting it keeps the expiry); a counter found without a
// TTL (written by someone else, or left by a crash) gets one either way,
// and a denied request never creates a key. Reply, per entry: denied (0:
// all m allowed, i: the decisions after the admitted ones denied by the
// i-th limit, -1: a counter is not an integer), admitted (how many of the
// m, the first ones), then the k counts before the entry. This is the path
// for costs above 1, several limits, clusters and Redis before 7 (no
// PEXPIRE NX); it works on Redis 2.6.12 and later.
var counterScript = script.New(readKeys + `
local k = tonumber(ARGV[1])
local per_keys, width = k, 2 + k
local limits = {}
for i = 1, k do limits[i] = tonumber(ARGV[1 + i]) end
-- count[key]: the running count (false: not an integer); order, found and
-- ttl: each key first seen, its value then and the TTL to write it with.
local count, changed, bad = {}, {}, {}
local order, found, ttl = {}, {}, {}
local out, o, a = {}, 0, 2 + k
for base = 0, #KEYS - k, k do
  local n, m = num(ARGV[a]), num(ARGV[a + 1])
  local denied, admitted = 0, m
  for i = 1, k do
    local key = KEYS[base + i]
    local c = count[key]
    if c == nil then
      local v = val[base + i]
      c = 0
      if v then
        c = tonumber(v)
        if c == nil or c % 1 ~= 0 then c = false end
      end
      count[key] = c
      local q = #order + 1
      order[q], found[q], ttl[q] = key, v, ARGV[a + 1 + i]
    end
    if c then
      out[o + 2 + i] = c
      local fit = floor((limits[i] - c) / n)
      if fit < admitted then admitted = fit end
    else
      out[o + 2 + i] = 0
      denied = -1
    end
  end
  if denied < 0 then
    admitted = 0
  else
    if admitted < 0 then admitted = 0 end
    if admitted < m then
      for i = k, 1, -1 do
        if floor((limits[i] - out[o + 2 + i]) / n) <= admitted then denied = i end
      end
    end
    if admitted > 0 then
      for i = 1, k do
        local key = KEYS[base + i]
        count[key] = count[key] + n * admitted
        changed[key] = true
      end
    end
  end
  out[o + 1], out[o + 2] = denied, admitted
  o = o + width
  a = a + 2 + k
end
for q = 1, #order do
  local key = order[q]
  if changed[key] then
    if not found[q] then
      if not redis.call('SET', key, count[key], 'PX', ttl[q], 'NX') then bad[key] = true end
    else
      redis.call('SET', key, count[key], 'PX', ttl[q])
    end
  elseif count[key] and found[q] and redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ttl[q])
  end
end
` + failForeign)

// gcraScript is the generic cell rate algorithm of
// github.com/go-redis/redis_rate/v10 (from github.com/rwz/redis-gcra), over
// a batch, with the same state in Redis (the theoretical arrival time in
// seconds since 2017-01-01 UTC, as a number, expiring when it passes), so
// both read each other's keys. ARGV: burst, rate, period in seconds, then
// each entry's cost (0: a Peek) and repeat count m. Every decision of one
// call is made at the same instant, Redis' TIME. Reply, per entry: admitted
// (how many of the m, the first ones; -1 when the key holds something else
// than a number) and the theoretical arrival time before the entry, in ns
// after now (gcraReplies derives each decision's reply from them).
var gcraScript = script.New(`
redis.replicate_commands()
` + readKeys + `
local per_keys, width = 1, 2
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local emission = period / rate
local burst_offset = emission * burst
local t = redis.call('TIME')
local now = (t[1] - 1483228800) + (t[2] / 1000000)
-- tats[key]: the running theoretical arrival time (false: not a number);
-- order and found: each key first seen and its value then.
local tats, changed, bad = {}, {}, {}
local order, found = {}, {}
local out = {}
for d = 1, #KEYS do
  local key = KEYS[d]
  local tat = tats[key]
  if tat == nil then
    local v = val[d]
    tat = now
    if v then tat = tonumber(v) or false end
    if tat and tat < now then tat = now end
    tats[key] = tat
    local q = #order + 1
    order[q], found[q] = key, v
  end
  if tat == false then
    out[2 * d - 1], out[2 * d] = -1, 0
  else
    local cost, m = num(ARGV[2 + 2 * d]), num(ARGV[3 + 2 * d])
    local admitted, before = 0, tat
    while admitted < m do
      local new_tat = tat + emission * cost
      if now - (new_tat - burst_offset) < 0 then break end
      tat = new_tat
      admitted = admitted + 1
    end
    out[2 * d - 1], out[2 * d] = admitted, (before - now) * 1000000000
    if admitted > 0 and cost > 0 then
      tats[key] = tat
      changed[key] = true
    end
  end
end
for q = 1, #order do
  local key = order[q]
  local reset_after = changed[key] and tats[key] - now or 0
  if reset_after > 0 then
    if not found[q] then
      if not redis.call('SET', key, tats[key], 'EX', ceil(reset_after), 'NX') then bad[key] = true end
    else
      redis.call('SET', key, tats[key], 'EX', ceil(reset_after))
    end
  end
end
` + failForeign)
