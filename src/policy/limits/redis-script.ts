/**
 * The one Lua script behind the Redis store: the memory store's bucket arithmetic
 * (limits/bucket.ts), run atomically in Redis so every instance shares one set of buckets.
 * Redis' own clock (TIME) is the only clock: instances whose clocks disagree still refill the
 * same bucket at the same rate, and no time crosses the network.
 *
 * Keys: `n` entity hashes (fields r, rt: request level and when it was read; t, tt: the token
 * level), then `z` sorted sets of one user's requests in flight (member: slot id, score: the
 * time the slot expires, so a slot of an instance that crashed frees itself).
 *
 * ARGV: mode ('a' admit, 's' settle only), n, z; per entity: request rate per ms, request
 * capacity, token rate per ms, token capacity ('0' rate: no such bucket), tokens to charge first;
 * per set: cap, slot id to add ('' none), lease ms, count k, then k slot ids to remove first.
 *
 * In mode 'a' it charges and removes what it was given, checks every bucket and, only if all
 * admit, takes one request from each request bucket and adds the slot. Reply: {0} admitted, or
 * {1, index of the key that refused (1-based), kind (1 requests, 2 tokens, 3 concurrent), wait ms}.
 */
export const LIMIT_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local admit = ARGV[1] == 'a'
local n = tonumber(ARGV[2])
local z = tonumber(ARGV[3])
local p = 4
local rlevel, tlevel, spec = {}, {}, {}
local deny_i, deny_kind, deny_wait = 0, 0, 0
local function fmt(x) return string.format('%.17g', x) end

for i = 1, n do
  local rr, rc, tr, tc, debit =
    tonumber(ARGV[p]), tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3]), tonumber(ARGV[p + 4])
  p = p + 5
  spec[i] = { rr, rc, tr, tc, debit }
  local h = redis.call('HMGET', KEYS[i], 'r', 'rt', 't', 'tt')
  if rr > 0 then
    local lv = rc
    if h[1] and h[2] then lv = math.min(rc, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * rr) end
    rlevel[i] = lv
    if admit and lv < 1 then
      local w = (1 - lv) / rr
      if w > deny_wait then deny_i, deny_kind, deny_wait = i, 1, w end
    end
  end
  if tr > 0 then
    local lv = tc
    if h[3] and h[4] then lv = math.min(tc, tonumber(h[3]) + math.max(0, now - tonumber(h[4])) * tr) end
    lv = lv - debit
    tlevel[i] = lv
    if admit and lv < 0 then
      local w = -lv / tr
      if w > deny_wait then deny_i, deny_kind, deny_wait = i, 2, w end
    end
  end
end

local slots = {}
for j = 1, z do
  local key = KEYS[n + j]
  local cap, slot, lease, k = tonumber(ARGV[p]), ARGV[p + 1], tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
  p = p + 4
  for m = p, p + k - 1 do redis.call('ZREM', key, ARGV[m]) end
  p = p + k
  if admit and slot ~= '' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if redis.call('ZCARD', key) >= cap then
      if 1000 > deny_wait then deny_i, deny_kind, deny_wait = n + j, 3, 1000 end
    else
      slots[#slots + 1] = { key, now + lease, slot, lease }
    end
  end
end

local admitted = admit and deny_wait <= 0
for i = 1, n do
  local rr, rc, tr, tc, debit = spec[i][1], spec[i][2], spec[i][3], spec[i][4], spec[i][5]
  local take = admitted and rr > 0
  local charge = tr > 0 and debit > 0
  if take or charge then
    -- The key lives until both buckets are full again; after that it is the same as no key.
    local ttl = 0
    if rr > 0 then
      local lv = rlevel[i]
      if take then
        lv = lv - 1
        redis.call('HSET', KEYS[i], 'r', fmt(lv), 'rt', now)
      end
      ttl = math.max(ttl, (rc - lv) / rr)
    end
    if tr > 0 then
      if charge then redis.call('HSET', KEYS[i], 't', fmt(tlevel[i]), 'tt', now) end
      ttl = math.max(ttl, (tc - tlevel[i]) / tr)
    end
    redis.call('PEXPIRE', KEYS[i], math.ceil(ttl) + 1000)
  end
end
if admitted then
  for _, s in ipairs(slots) do
    redis.call('ZADD', s[1], s[2], s[3])
    -- Never shorten it: the set must outlive its longest slot.
    if redis.call('PTTL', s[1]) < s[4] + 1000 then redis.call('PEXPIRE', s[1], s[4] + 1000) end
  end
  return { 0 }
end
if not admit then return { 0 } end
return { 1, deny_i, deny_kind, math.ceil(deny_wait) }
`;
