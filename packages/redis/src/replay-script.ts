/**
 * The replay check of RFC 8613 §7.4 as one Lua script, so that "validating the Partial IV
 * and updating the replay protection" is atomic across every replica that shares the
 * window: Redis runs a script to completion before it runs any other command.
 *
 * It is the sliding window of the in-memory `ReplayWindow` (@oscore-http/core), step for
 * step: the highest Sender Sequence Number received, and a ring of `size` bits indexed by
 * `seq mod size`. A number above the highest is new (the numbers skipped over are cleared,
 * all bits when the jump is a whole window or more); one at or below `highest − size` is
 * too old to tell and is rejected; one inside the window is new iff its bit is clear.
 *
 * Lua numbers are IEEE doubles: integers below 2^53 are exact, and sequence numbers stop
 * at 2^40 − 1 (§7.2.1), so `seq`, `seq − highest` and `seq % size` are exact.
 *
 * KEYS[1]  the window's hash: `highest` (decimal), `size`
 * KEYS[2]  the window's bitmap (a string; SETBIT/GETBIT offsets are ring positions)
 * ARGV[1]  the sequence number (decimal)
 * ARGV[2]  the window size, 1 … 65,536
 * ARGV[3]  "1" if the caller has seen this window before (a missing window is then lost state)
 * ARGV[4]  "check", or "establish" after freshness was proved (Appendix B.1.2)
 * Returns  "accepted", "replayed" or "unknown" (the window was lost: prove freshness first).
 */
export const REPLAY_SCRIPT = `
local meta, bits = KEYS[1], KEYS[2]
local seq = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local seen = ARGV[3] == '1'
local establish = ARGV[4] == 'establish'
local bytes = math.ceil(size / 8)

-- Clears count ring positions starting at from (count < size), whole bytes with SETRANGE.
local function clear(from, count)
  while count > 0 do
    local s = from
    local e = math.min(from + count, size)
    count = count - (e - s)
    from = 0
    while s < e and s % 8 ~= 0 do redis.call('SETBIT', bits, s, 0); s = s + 1 end
    local whole = math.floor((e - s) / 8)
    if whole > 0 then
      redis.call('SETRANGE', bits, s / 8, string.rep('\\0', whole))
      s = s + whole * 8
    end
    while s < e do redis.call('SETBIT', bits, s, 0); s = s + 1 end
  end
end

local state = redis.call('HMGET', meta, 'highest', 'size')
local highest = tonumber(state[1])
if highest == nil then
  if establish then
    -- Appendix B.1.2: "the Partial IV of the second request is set as the lower limit of the
    -- Replay Window": it and everything below it count as received.
    redis.call('SET', bits, string.rep('\\255', bytes))
    redis.call('HSET', meta, 'highest', ARGV[1], 'size', ARGV[2])
    return 'accepted'
  end
  -- A window this caller used before is gone: Redis lost it. Prove freshness (§7.5, B.1.2).
  if seen then return 'unknown' end
  highest = -1
  redis.call('DEL', bits)
  redis.call('HSET', meta, 'size', ARGV[2])
elseif tonumber(state[2]) ~= size then
  -- Resized: the bits cannot be carried over. Count everything at or below the highest as
  -- received, which may refuse a late request but never accepts a replay.
  redis.call('SET', bits, string.rep('\\255', bytes))
  redis.call('HSET', meta, 'size', ARGV[2])
end

if seq > highest then
  -- Slide: the numbers between the old highest and seq were never received.
  local distance = seq - highest
  if distance >= size then redis.call('DEL', bits)
  elseif distance > 1 then clear((highest + 1) % size, distance - 1) end
  redis.call('HSET', meta, 'highest', ARGV[1])
else
  -- §7.4: at or below highest - size is older than the window: cannot tell, so reject.
  if highest - seq >= size then return 'replayed' end
  if redis.call('GETBIT', bits, seq % size) == 1 then return 'replayed' end
end
redis.call('SETBIT', bits, seq % size, 1)
return 'accepted'
`;
