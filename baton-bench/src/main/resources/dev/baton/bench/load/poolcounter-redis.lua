-- PoolCounter on Redis: the algorithm of MediaWiki's PoolCounterRedis backend, written anew for
-- Baton's side-by-side benchmark, with two of that backend's defects fixed (FIX 1 and FIX 2 below
-- say what each was).
--
-- The algorithm: a pool (one key, W workers) is a list of free slot ids 1..W. An acquire pops a free
-- slot; when none is free the client registers as a waiter and blocks in BLPOP on the slot list (an
-- acquire-for-anyone also on a wake-up list), outside any script. A release pushes its slot back,
-- which hands it to the oldest blocked waiter; a holder that acquired for anyone also pushes one
-- wake-up token per waiter-for-anyone, who then answer DONE. Leases (a deadline per slot) reclaim
-- slots of holders that vanished; waiters older than twice the timeout are forgotten. An idle pool is
-- deleted and re-created on the next acquire.
--
-- FIX 1 (waiter identity). The PHP class registers every waiter under $this->session, which its
-- constructor never assigns: all waiters share one member of the waiter set. So the set never counts
-- more than one waiter (maxqueue is never reached), the first waiter to leave unregisters all others,
-- and a release that then sees "no waiters" and the last slot coming back deletes the slot list
-- instead of pushing to it: the waiters still blocked in BLPOP are never woken and time out although
-- the pool is free. Here every acquire registers under its own id (ARGV waiter: unique per handle
-- and per acquire, made by the client), and removes exactly that id when it stops waiting.
--
-- FIX 2 (wake-up count). The PHP release pushes one wake-up token per registered waiter, of either
-- kind (and, with the shared identity, never more than one). Waiters-for-me never take tokens, so a
-- token meant for nobody stays on the list (1 ms) for whoever blocks next, and waiters-for-anyone
-- beyond the first are not woken. Here the waiters-for-anyone have their own set, and a release
-- pushes exactly one token per member of it.
--
-- Also unlike the PHP code: time is the server's (TIME, in ms), not each client's clock; a lease
-- check on release is an exact integer compare and a missing score is "expired" (the PHP code does
-- arithmetic on the nil that ZSCORE returns for a missing member); the lease length is an argument.
-- Timeout 0 ("do not wait") is the client's business: it must not BLPOP with 0, which blocks forever.
--
-- One script; ARGV[1] names the operation. Keys of one pool (the client puts W in the names, so
-- that a change of W starts a fresh pool):
--   KEYS[1] slots    list of free slot ids
--   KEYS[2] leases   zset slot id -> deadline in ms (held: grant + ttl; free: release + 30 s, so that
--                    a slot popped by a waiter that died before confirming comes back; -1: never used)
--   KEYS[3] waiters  zset waiter id -> registration time in ms (all waiters)
--   KEYS[4] anyone   zset waiter id -> registration time in ms (the waiters that acquire for anyone)
--   KEYS[5] wakeup   list of 'w' tokens for the waiters-for-anyone, expiring 1 ms after a release
--
-- Operations and replies:
--   acquire  W maxqueue timeout_ms ttl_ms waiter anyone(0|1) -> {'LOCKED', slot, deadline} | {'QUEUE_FULL'} | {'WAIT'}
--            after WAIT the client does BLPOP slots (or wakeup, slots when anyone) for the timeout, then:
--   granted  value ttl_ms waiter   -> {'LOCKED', slot, deadline} (value is a slot id) | {'DONE'} (value 'w')
--   unwait   waiter                -> 1 (the BLPOP timed out)
--   release  W slot deadline anyone(0|1) ttl_ms -> 'RELEASED' | 'EXPIRED' (the lease had run out and the
--            slot was reclaimed: nothing is pushed)

local kSlots, kLeases, kWaiters, kAnyone, kWakeup = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local FREE_GRACE_MS = 30000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Every use keeps the pool's keys for another lease length.
local function touch(now, ttl)
  redis.call('PEXPIREAT', kSlots, now + ttl)
  redis.call('PEXPIREAT', kLeases, now + ttl)
end

local function acquire()
  local workers, maxqueue = tonumber(ARGV[2]), tonumber(ARGV[3])
  local timeout, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
  local waiter, anyone = ARGV[6], ARGV[7] == '1'
  local now = now_ms()
  if redis.call('EXISTS', kLeases) == 0 then
    -- A new (or idle, deleted) pool: all slots free.
    redis.call('DEL', kSlots)
    for i = 1, workers do
      redis.call('RPUSH', kSlots, i)
      redis.call('ZADD', kLeases, -1, i)
    end
  else
    -- Reclaim slots whose deadline passed (holder gone, or popped by a waiter that never confirmed),
    -- without duplicates in the free list.
    local stale = redis.call('ZRANGEBYSCORE', kLeases, 0, now)
    for _, slot in ipairs(stale) do
      redis.call('LREM', kSlots, 0, slot)
      redis.call('RPUSH', kSlots, slot)
      redis.call('ZADD', kLeases, now + FREE_GRACE_MS, slot)
    end
    -- Forget waiters that should have given up long ago.
    redis.call('ZREMRANGEBYSCORE', kWaiters, 0, now - 2 * timeout)
    redis.call('ZREMRANGEBYSCORE', kAnyone, 0, now - 2 * timeout)
  end
  local reply
  if redis.call('LLEN', kSlots) > 0 then
    local slot = redis.call('LPOP', kSlots)
    local deadline = now + ttl
    redis.call('ZADD', kLeases, deadline, slot)
    reply = {'LOCKED', slot, deadline}
  elseif redis.call('ZCARD', kWaiters) >= maxqueue then
    reply = {'QUEUE_FULL'}
  else
    -- FIX 1: the waiter's own id, not one shared by every client.
    redis.call('ZADD', kWaiters, now, waiter)
    redis.call('PEXPIREAT', kWaiters, now + 2 * timeout + 1000)
    if anyone then
      -- FIX 2: waiters-for-anyone are counted apart, for the wake-up tokens.
      redis.call('ZADD', kAnyone, now, waiter)
      redis.call('PEXPIREAT', kAnyone, now + 2 * timeout + 1000)
    end
    reply = {'WAIT'}
  end
  touch(now, ttl)
  return reply
end

local function granted()
  local value, ttl, waiter = ARGV[2], tonumber(ARGV[3]), ARGV[4]
  -- FIX 1: unregister exactly this waiter.
  redis.call('ZREM', kWaiters, waiter)
  redis.call('ZREM', kAnyone, waiter)
  if value == 'w' then
    return {'DONE'}
  end
  local now = now_ms()
  local deadline = now + ttl
  redis.call('ZADD', kLeases, deadline, value)
  touch(now, ttl)
  return {'LOCKED', value, deadline}
end

local function unwait()
  local waiter = ARGV[2]
  redis.call('ZREM', kWaiters, waiter)
  redis.call('ZREM', kAnyone, waiter)
  return 1
end

local function release()
  local workers, slot, deadline = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
  local anyone, ttl = ARGV[5] == '1', tonumber(ARGV[6])
  local now = now_ms()
  if anyone then
    -- FIX 2: one token per waiter-for-anyone, and none for the waiters-for-me. Pushed before the slot:
    -- Redis serves blocked clients in the order their keys became ready, so the waiters-for-anyone
    -- (blocked on wakeup and slots) take their tokens and the slot goes to a waiter-for-me.
    local n = redis.call('ZCARD', kAnyone)
    for _ = 1, n do
      redis.call('RPUSH', kWakeup, 'w')
    end
    if n > 0 then
      redis.call('PEXPIRE', kWakeup, 1)
    end
  end
  local result = 'EXPIRED'
  local score = redis.call('ZSCORE', kLeases, slot)
  if score and tonumber(score) == deadline then
    result = 'RELEASED'
    local free = redis.call('LLEN', kSlots)
    if free >= workers then
      -- More free slots than workers: the pool is out of sync; start afresh.
      redis.call('DEL', kSlots, kLeases)
    elseif free == workers - 1 and redis.call('ZCARD', kWaiters) == 0 then
      -- The last holder leaves and nobody waits (FIX 1 makes "nobody" true): drop the idle pool.
      redis.call('DEL', kSlots, kLeases)
    else
      -- Hand the slot to the oldest blocked waiter, or leave it free.
      redis.call('RPUSH', kSlots, slot)
      redis.call('ZADD', kLeases, now + FREE_GRACE_MS, slot)
      touch(now, ttl)
    end
  end
  return result
end

local op = ARGV[1]
if op == 'acquire' then
  return acquire()
elseif op == 'granted' then
  return granted()
elseif op == 'unwait' then
  return unwait()
elseif op == 'release' then
  return release()
end
return redis.error_reply('unknown operation ' .. tostring(op))
