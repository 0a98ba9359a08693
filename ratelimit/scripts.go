package ratelimit

// counterScript is the all-or-nothing windowed counter: KEYS are counters
// (sharing one {id} hash tag), ARGV[1] the cost n, ARGV[1+i] the limit of
// KEYS[i] and ARGV[1+#KEYS+i] its TTL in ms. If n fits under every limit it
// increments them all; otherwise it increments none and returns the index of
// the first limit that does not fit. A counter found without a TTL (written
// by someone else, or left by a crash) gets one either way, and a denied
// request never creates a key. It returns {denied, count1, count2, ...}.
// This is the path for costs above 1, several limits, clusters and Redis
// before 7 (no PEXPIRE NX); it works on Redis 2.6 and later.
var counterScript = newScript(`
local n = tonumber(ARGV[1])
local k = #KEYS
local counts = {}
local denied = 0
for i = 1, k do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  counts[i] = c
  if denied == 0 and c + n > tonumber(ARGV[1 + i]) then
    denied = i
  end
end
local out = {denied}
for i = 1, k do
  local c = counts[i]
  if denied == 0 then
    c = redis.call('INCRBY', KEYS[i], n)
  end
  if redis.call('PTTL', KEYS[i]) == -1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[1 + k + i])
  end
  out[i + 1] = c
end
return out
`)
