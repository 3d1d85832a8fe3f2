/**
 * The Lua scripts of `redisStore()`. Redis runs a script as one atomic step
 * (no other command runs in between), so every check-then-write below is a
 * compare-and-set across every process that uses the same Redis.
 *
 * Conventions: keys the caller knows in advance come in `KEYS` (ioredis adds
 * the client's `keyPrefix` to them); keys a script finds in an index are
 * built from `ARGV[1]`, the full prefix. Numbers travel as decimal strings
 * and are compared with `tonumber` (epoch milliseconds are exact in Lua's
 * doubles). Records are stored as the caller's JSON and never re-encoded in
 * Lua, so what is read back is exactly what was written.
 */
import { createHash } from 'node:crypto';

/** A Lua script and its SHA-1 (for EVALSHA). */
export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Number of ARGV slots per outbox message in the create and transition scripts. */
export const OUTBOX_ARGS = 9;

// Writes one outbox message (ARGV[at] … ARGV[at + 8]: id, base JSON, subject
// id, state, attempts, nextAttemptAt, lastError JSON, purgeAt, ttl) with its
// subject-list entry, due-index entry and purge-index entry.
const ADD_OUTBOX = `
local function addOutbox(messageKey, subjectKey, dueIndex, purgeIndex, at)
  local id, state, nextAt, ttl = ARGV[at], ARGV[at + 3], ARGV[at + 5], ARGV[at + 8]
  redis.call('HSET', messageKey, 'base', ARGV[at + 1], 'subject', ARGV[at + 2], 'state', state, 'attempts', ARGV[at + 4],
    'nextAttemptAt', nextAt, 'lastError', ARGV[at + 6], 'lease', '', 'leaseUntil', '0')
  redis.call('PEXPIRE', messageKey, ttl)
  redis.call('RPUSH', subjectKey, id)
  if redis.call('PTTL', subjectKey) < tonumber(ttl) then redis.call('PEXPIRE', subjectKey, ttl) end
  if state == 'pending' then redis.call('ZADD', dueIndex, nextAt, id) end
  redis.call('ZADD', purgeIndex, ARGV[at + 7], 'o:' .. id)
end
`;

/**
 * createNotification, all or nothing.
 * KEYS: idx:pending, idx:purge, idx:due, n, [a, au], (o, os)*
 * ARGV: hasApproval, notification id, JSON, purgeAt, ttl, approval id, base JSON,
 *       status, expiresAt, purgeAt, ttl, audit JSON or '', message count,
 *       then OUTBOX_ARGS per message.
 * Returns {1, 'created' | 'replay'} or {0, kind of the duplicate id}.
 */
export const createNotificationScript = script(
  'createNotification',
  `${ADD_OUTBOX}
local existing = redis.call('GET', KEYS[4])
if existing then
  -- The very same write again (a client resending after a lost reply) is not a duplicate.
  if existing == ARGV[3] then return {1, 'replay'} end
  return {0, 'notification'}
end
local hasApproval = ARGV[1] == '1'
local first = 5
if hasApproval then
  first = 7
  if redis.call('EXISTS', KEYS[5]) == 1 then return {0, 'approval'} end
end
local count = tonumber(ARGV[13])
for i = 0, count - 1 do
  if redis.call('EXISTS', KEYS[first + 2 * i]) == 1 then return {0, 'outbox'} end
end
redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], 'n:' .. ARGV[2])
if hasApproval then
  redis.call('HSET', KEYS[5], 'base', ARGV[7], 'status', ARGV[8])
  redis.call('PEXPIRE', KEYS[5], ARGV[11])
  if ARGV[8] == 'pending' then redis.call('ZADD', KEYS[1], ARGV[9], ARGV[6]) end
  redis.call('ZADD', KEYS[2], ARGV[10], 'a:' .. ARGV[6])
  redis.call('DEL', KEYS[6])
  if ARGV[12] ~= '' then
    redis.call('RPUSH', KEYS[6], ARGV[12])
    redis.call('PEXPIRE', KEYS[6], ARGV[11])
  end
end
for i = 0, count - 1 do
  addOutbox(KEYS[first + 2 * i], KEYS[first + 2 * i + 1], KEYS[3], KEYS[2], 14 + ${OUTBOX_ARGS} * i)
end
return {1, 'created'}
`,
);

/**
 * transitionApproval: compare-and-set from pending, audit append, outbox
 * enqueue and the wake-up publish in one step.
 * KEYS: idx:pending, idx:purge, idx:due, a, au, (o, os)*
 * ARGV: id, patch JSON, new status, audit JSON, channel, message count,
 *       then OUTBOX_ARGS per message, then the call's nonce (last).
 * Returns {} (unknown id), {0, base, patch} (not pending) or {1, base, patch}.
 */
export const transitionApprovalScript = script(
  'transitionApproval',
  `${ADD_OUTBOX}
local status = redis.call('HGET', KEYS[4], 'status')
if not status then return {} end
local base = redis.call('HGET', KEYS[4], 'base')
local nonce = ARGV[#ARGV]
if status ~= 'pending' then
  local patch = redis.call('HGET', KEYS[4], 'patch') or ''
  -- This very call again (ioredis resending it after a lost reply) reports its own success.
  -- Another call is refused even with the same values (two identical clicks in one millisecond).
  if redis.call('HGET', KEYS[4], 'txn') == nonce then return {1, base, patch} end
  return {0, base, patch}
end
redis.call('HSET', KEYS[4], 'status', ARGV[3], 'patch', ARGV[2], 'txn', nonce)
redis.call('RPUSH', KEYS[5], ARGV[4])
local ttl = redis.call('PTTL', KEYS[4])
if ttl > 0 then redis.call('PEXPIRE', KEYS[5], ttl) end
redis.call('ZREM', KEYS[1], ARGV[1])
local count = tonumber(ARGV[6])
for i = 0, count - 1 do
  addOutbox(KEYS[6 + 2 * i], KEYS[7 + 2 * i], KEYS[3], KEYS[2], 7 + ${OUTBOX_ARGS} * i)
end
redis.call('PUBLISH', ARGV[5], ARGV[1])
return {1, base, ARGV[2]}
`,
);

/**
 * dueApprovals: pending approvals with expiresAt <= now, earliest first.
 * Index entries of decided or vanished approvals are dropped on the way.
 * KEYS: idx:pending. ARGV: base, now, limit. Returns base JSON strings.
 */
export const dueApprovalsScript = script(
  'dueApprovals',
  `
local limit = tonumber(ARGV[3])
local out = {}
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', #out, limit - #out)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local fields = redis.call('HMGET', ARGV[1] .. 'a:' .. id, 'status', 'base')
    if fields[1] == 'pending' then
      out[#out + 1] = fields[2]
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return out
`,
);

/**
 * claimOutbox: pops due ids, leases them and re-scores them at the lease end,
 * so a crashed claimer's messages come due again when the lease runs out.
 * KEYS: idx:due. ARGV: base, now, limit, leaseUntil, lease token prefix.
 * Returns {id, base, state, attempts, nextAttemptAt, lastError, lease}*.
 */
export const claimOutboxScript = script(
  'claimOutbox',
  `
local limit = tonumber(ARGV[3])
local claimed = {}
local seen = {}
while #claimed < limit do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, limit - #claimed)
  local progressed = false
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      progressed = true
      local key = ARGV[1] .. 'o:' .. id
      local f = redis.call('HMGET', key, 'state', 'base', 'attempts', 'nextAttemptAt', 'lastError')
      if f[1] == 'pending' then
        local lease = ARGV[5] .. '.' .. (#claimed + 1)
        redis.call('HSET', key, 'lease', lease, 'leaseUntil', ARGV[4])
        redis.call('ZADD', KEYS[1], ARGV[4], id)
        claimed[#claimed + 1] = {id, f[2], f[1], f[3], f[4], f[5], lease}
      else
        redis.call('ZREM', KEYS[1], id)
      end
    end
  end
  if not progressed then break end
end
return claimed
`,
);

/**
 * settleOutbox: records an attempt's end only while `lease` holds the message.
 * KEYS: idx:due, o. ARGV: id, lease, state, attempts, nextAttemptAt, lastError JSON.
 * Returns 1 (settled) or 0 (lease lost).
 */
export const settleOutboxScript = script(
  'settleOutbox',
  `
if ARGV[2] == '' then return 0 end
local f = redis.call('HMGET', KEYS[2], 'lease', 'state')
if f[1] ~= ARGV[2] or f[2] ~= 'pending' then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'attempts', ARGV[4], 'lastError', ARGV[6], 'lease', '', 'leaseUntil', '0')
if ARGV[3] == 'pending' then
  redis.call('HSET', KEYS[2], 'nextAttemptAt', ARGV[5])
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
`,
);

/**
 * listOutbox: a subject's messages, oldest first (ids whose record is gone are skipped).
 * KEYS: os. ARGV: base. Returns {id, base, state, attempts, nextAttemptAt, lastError}*.
 */
export const listOutboxScript = script(
  'listOutbox',
  `
local out = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. 'o:' .. id, 'base', 'state', 'attempts', 'nextAttemptAt', 'lastError')
  if f[1] then out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5]} end
end
return out
`,
);

/**
 * consumeQuota: checks every window, then adds to all of them or to none.
 * KEYS: idx:purge, counter*. ARGV: amount, count, then per window: limit
 * ('inf' = unlimited), expiresAt, purge member; last: fallback TTL (ms).
 * Returns {1, -1, used…} or {0, exceeded index, used…}.
 */
export const consumeQuotaScript = script(
  'consumeQuota',
  `
local amount = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local used = {}
local exceeded = -1
for i = 1, count do
  local value = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  used[i] = value
  local limit = ARGV[3 * i]
  if exceeded < 0 and limit ~= 'inf' and value + amount > tonumber(limit) then exceeded = i - 1 end
end
if exceeded >= 0 then return {0, exceeded, unpack(used)} end
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 1, count do
  local key = KEYS[i + 1]
  used[i] = redis.call('INCRBY', key, amount)
  if redis.call('PTTL', key) < 0 then
    local expiresAt = ARGV[3 * i + 1]
    -- Expire with the window; if the caller's clock is behind Redis's (a fake clock, skew), keep it for the fallback instead.
    if tonumber(expiresAt) > nowMs then redis.call('PEXPIREAT', key, expiresAt) else redis.call('PEXPIRE', key, ARGV[#ARGV]) end
    redis.call('ZADD', KEYS[1], 'NX', expiresAt, ARGV[3 * i + 2])
  end
end
return {1, -1, unpack(used)}
`,
);

/** refundQuota: takes `amount` off existing counters, never below zero. KEYS: counter*. ARGV: amount. */
export const refundQuotaScript = script(
  'refundQuota',
  `
local amount = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then
    local left = tonumber(value) - amount
    if left < 0 then left = 0 end
    redis.call('SET', key, string.format('%d', left), 'KEEPTTL')
  end
end
return 1
`,
);

/**
 * readAccountState: counters and endpoint health in one round trip.
 * KEYS: h, counter*. Returns {healthy, failures, urls JSON, counter values…}.
 */
export const readAccountStateScript = script(
  'readAccountState',
  `
local h = redis.call('HMGET', KEYS[1], 'healthy', 'failures', 'urls')
local out = {h[1] or '1', h[2] or '0', h[3] or '[]'}
for i = 2, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out
`,
);

/**
 * recordDelivery: updates an endpoint's health from one outcome.
 * KEYS: h. ARGV: outcome, url, threshold. Returns {healthy, failures, urls JSON}.
 */
export const recordDeliveryScript = script(
  'recordDelivery',
  `
local f = redis.call('HMGET', KEYS[1], 'healthy', 'failures', 'urls')
local healthy = f[1] ~= '0'
local failures = tonumber(f[2] or '0')
local urls = f[3] or '[]'
if ARGV[1] == 'success' then
  healthy = true
  failures = 0
elseif ARGV[1] == 'gone' then
  healthy = false
  failures = failures + 1
  local list = cjson.decode(urls)
  local known = false
  for _, url in ipairs(list) do if url == ARGV[2] then known = true end end
  if not known then
    list[#list + 1] = ARGV[2]
    urls = cjson.encode(list)
  end
else
  failures = failures + 1
  healthy = healthy and failures < tonumber(ARGV[3])
end
local flag = '0'
if healthy then flag = '1' end
redis.call('HSET', KEYS[1], 'healthy', flag, 'failures', failures, 'urls', urls)
return {flag, failures, urls}
`,
);

/**
 * purge: deletes records whose purge-index score is <= now, with their index
 * entries; entries whose record Redis already expired are dropped too.
 * KEYS: idx:purge, idx:pending, idx:due. ARGV: base, now, max entries.
 * Returns how many entries were handled.
 */
export const purgeScript = script(
  'purge',
  `
local base = ARGV[1]
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(entries) do
  local kind, id = string.match(member, '^(%a+):(.*)$')
  if kind == 'n' then
    redis.call('DEL', base .. 'n:' .. id)
  elseif kind == 'a' then
    redis.call('DEL', base .. 'a:' .. id, base .. 'au:' .. id)
    redis.call('ZREM', KEYS[2], id)
  elseif kind == 'o' then
    local key = base .. 'o:' .. id
    local subject = redis.call('HGET', key, 'subject')
    if subject then redis.call('LREM', base .. 'os:' .. subject, 0, id) end
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[3], id)
  elseif kind == 'c' then
    redis.call('DEL', base .. 'c:' .. id)
  end
  redis.call('ZREM', KEYS[1], member)
end
return #entries
`,
);
