"""Redis key layout and the Lua scripts that keep a user's stream consistent.

Per user (all keys share the hash tag ``{user_id}``, so a script touches one slot):

* ``<prefix>:{<user>}:meta`` hash ``epoch``, ``seq``: the stream's identity and
  newest seq. Kept together in one hash so they are created, lost and
  restored together.
* ``<prefix>:{<user>}:log`` stream: the retained entries. The entry id is
  ``<seq>-0`` and the fields are ``t`` (publish time, Unix ms, from the
  publishing node's clock) and ``p`` (the payload).
* ``<prefix>:{<user>}:live`` pub/sub channel: every entry as
  ``<epoch>\\n<seq>\\n<payload>``.

Each script runs atomically, so assigning a seq, appending, trimming and
publishing happen as one step: a subscriber that sees seq N on the channel can
always read seq N from the log (unless retention already dropped it).

Retention: ``XADD ... MAXLEN <max_entries>`` trims by count, exactly. Age
cannot use ``XTRIM MINID`` on time because ids are seqs, so every publish and
every read drops entries from the head while their ``t`` is older than the
cutoff (entries are in publish order, so the expired ones are the oldest).
The log key and the meta hash both expire ``max_age`` after the last publish
(a meta hash created by a read expires ``max_age`` after that read), so an
idle user's stream costs nothing. Forgetting the state then is safe: every
entry of its epoch has expired too, and the next use starts a new epoch,
which clients holding old positions see as ``epoch_changed``. With no age
limit neither key expires.

When ``meta`` is missing (a new user, or Redis lost the data) the scripts
create it with the epoch the caller proposes and delete any orphaned log.
"""

from __future__ import annotations

_COMMON = """
local function ensure_stream(meta, log, candidate, max_age)
  local state = redis.call('HMGET', meta, 'epoch', 'seq')
  if state[1] and state[2] then
    return state[1], tonumber(state[2])
  end
  -- No (complete) state: a new stream, or its state expired or was lost.
  -- Entries left in the log belong to no epoch any more.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', candidate, 'seq', 0)
  if max_age > 0 then
    redis.call('PEXPIRE', meta, max_age)
  end
  return candidate, 0
end

local function trim_age(log, cutoff)
  local count = 1  -- usually the oldest entry is still fresh: look at it alone
  while true do
    local batch = redis.call('XRANGE', log, '-', '+', 'COUNT', count)
    if #batch == 0 then
      return
    end
    for i, item in ipairs(batch) do
      if tonumber(item[2][2]) >= cutoff then
        if i > 1 then
          redis.call('XTRIM', log, 'MINID', item[1])
        end
        return
      end
    end
    if #batch < count then
      redis.call('DEL', log)
      return
    end
    local last = tonumber(string.match(batch[#batch][1], '^(%d+)'))
    redis.call('XTRIM', log, 'MINID', string.format('%d', last + 1))
    count = 64
  end
end
"""

PUBLISH = (
    _COMMON
    + """
-- KEYS: meta, log. ARGV: payload, candidate epoch, max entries, now ms,
-- max age ms (0: no age limit), channel. Returns {epoch, seq}.
local max_age = tonumber(ARGV[5])
local epoch = ensure_stream(KEYS[1], KEYS[2], ARGV[2], max_age)
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = string.format('%d-0', seq)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], id, 't', ARGV[4], 'p', ARGV[1])
if max_age > 0 then
  trim_age(KEYS[2], tonumber(ARGV[4]) - max_age)
  -- Both keys get the same expiry, refreshed together: the state is
  -- forgotten only when the log, and so every entry of the epoch, goes too.
  redis.call('PEXPIRE', KEYS[2], max_age)
  redis.call('PEXPIRE', KEYS[1], max_age)
else
  -- No age limit: nothing may expire (also undoes an earlier limit's expiry).
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[1])
end
redis.call('PUBLISH', ARGV[6], epoch .. '\\n' .. string.format('%d', seq) .. '\\n' .. ARGV[1])
return {epoch, seq}
"""
)

READ = (
    _COMMON
    + """
-- KEYS: meta, log. ARGV: after seq, limit, now ms, max age ms (0: none),
-- candidate epoch. Returns {epoch, last seq, seq1, payload1, seq2, ...}.
local max_age = tonumber(ARGV[4])
local epoch, last = ensure_stream(KEYS[1], KEYS[2], ARGV[5], max_age)
if max_age > 0 then
  trim_age(KEYS[2], tonumber(ARGV[3]) - max_age)
end
local out = {epoch, last}
local limit = tonumber(ARGV[2])
if limit > 0 then
  local start = string.format('%d-0', tonumber(ARGV[1]) + 1)
  for _, item in ipairs(redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', limit)) do
    out[#out + 1] = tonumber(string.match(item[1], '^(%d+)'))
    out[#out + 1] = item[2][4]
  end
end
return out
"""
)


def stream_keys(prefix: str, user_id: str) -> tuple[str, str, str]:
    """The (meta, log, channel) names of one user's stream."""
    base = f"{prefix}:{{{user_id}}}"
    return f"{base}:meta", f"{base}:log", f"{base}:live"
