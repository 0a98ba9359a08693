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
// caller's reply. They read every key of the batch with one MGET
// (readKeys), decide the entries in order against the running state (so
// concurrent decisions on one hot key are exact, whatever their number),
// and write each changed key once at the end. A key holding something else
// than what the script writes (a value it cannot read, or another type,
// found when a SET … NX of a key MGET saw as missing fails) fails the
// entries that use it (failForeign). Replies are integers, so they need no
// string parsing.

// readKeys is the scripts' prelude: order lists the batch's distinct keys,
// first seen first, and val[key] is its value (false: missing or not a
// string), read with one MGET per 1,000 keys (Lua's unpack limit).
const readKeys = `
local order, val = {}, {}
for i = 1, #KEYS do
  local key = KEYS[i]
  if val[key] == nil then
    val[key] = false
    order[#order + 1] = key
  end
end
for i = 1, #order, 1000 do
  local part = redis.call('MGET', unpack(order, i, math.min(i + 999, #order)))
  for j = 1, #part do val[order[i + j - 1]] = part[j] end
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
// remaining decisions, which would not fit either). A counter the batch
// changed is written once, by SET with its TTL (the time to its window's
// end plus the grace, as the request computed it: rewriting it keeps the
// expiry); a counter found without a TTL (written by someone else, or left
// by a crash) gets one either way, and a denied request never creates a
// key. Reply, per entry: denied (0: all m allowed, i: the decisions after
// the admitted ones denied by the i-th limit, -1: a counter is not an
// integer), admitted (how many of the m, the first ones), then the k
// counts before the entry. This is the path for costs above 1, several
// limits, clusters and Redis before 7 (no PEXPIRE NX); it works on Redis
// 2.6.12 and later.
var counterScript = script.New(readKeys + `
local k = tonumber(ARGV[1])
local per_keys, width = k, 2 + k
local limits = {}
for i = 1, k do limits[i] = tonumber(ARGV[1 + i]) end
local count, was, ttl, bad = {}, {}, {}, {}
for _, key in ipairs(order) do
  local c = 0
  if val[key] then
    c = tonumber(val[key])
    if c == nil or c % 1 ~= 0 then c = false end
  end
  count[key], was[key] = c, c
end
local out, o = {}, 0
local a = 2 + k
for d = 0, #KEYS / k - 1 do
  local n, m = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local base = d * k
  local denied, admitted = 0, 0
  for i = 1, k do
    local key = KEYS[base + i]
    if ttl[key] == nil then ttl[key] = ARGV[a + 1 + i] end
    if count[key] == false then denied = -1 end
  end
  out[o + 1] = 0
  out[o + 2] = 0
  for i = 1, k do out[o + 2 + i] = count[KEYS[base + i]] or 0 end
  while denied == 0 and admitted < m do
    for i = 1, k do
      if denied == 0 and count[KEYS[base + i]] + n > limits[i] then denied = i end
    end
    if denied == 0 then
      for i = 1, k do
        local key = KEYS[base + i]
        count[key] = count[key] + n
      end
      admitted = admitted + 1
    end
  end
  out[o + 1], out[o + 2] = denied, admitted
  o = o + width
  a = a + 2 + k
end
for _, key in ipairs(order) do
  local c = count[key]
  if c and c ~= was[key] then
    if not val[key] then
      if not redis.call('SET', key, c, 'PX', ttl[key], 'NX') then bad[key] = true end
    else
      redis.call('SET', key, c, 'PX', ttl[key])
    end
  elseif c and val[key] and redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ttl[key])
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
local tats, changed, bad = {}, {}, {}
for _, key in ipairs(order) do
  local tat = now
  if val[key] then tat = tonumber(val[key]) or false end
  if tat then tat = math.max(tat, now) end
  tats[key] = tat
end
local out = {}
for d = 1, #KEYS do
  local key = KEYS[d]
  local cost, m = tonumber(ARGV[2 + 2 * d]), tonumber(ARGV[3 + 2 * d])
  local tat = tats[key]
  if tat == false then
    out[2 * d - 1], out[2 * d] = -1, 0
  else
    local admitted = 0
    while admitted < m do
      local new_tat = tat + emission * cost
      if now - (new_tat - burst_offset) < 0 then break end
      tat = new_tat
      admitted = admitted + 1
    end
    out[2 * d - 1], out[2 * d] = admitted, (tats[key] - now) * 1000000000
    if admitted > 0 and cost > 0 then
      tats[key] = tat
      changed[key] = true
    end
  end
end
for _, key in ipairs(order) do
  local reset_after = changed[key] and tats[key] - now or 0
  if reset_after > 0 then
    if not val[key] then
      if not redis.call('SET', key, tats[key], 'EX', math.ceil(reset_after), 'NX') then bad[key] = true end
    else
      redis.call('SET', key, tats[key], 'EX', math.ceil(reset_after))
    end
  end
end
` + failForeign)
