package dev.spillway.flush;

import dev.spillway.redis.LuaScript;

/**
 * The flusher's Lua scripts, one atomic step each (DESIGN.md, "Data flow"): claim a stripe's live
 * hash as a batch, acknowledge a committed batch, and adopt's claim of existing keys. They move and
 * remove what the client's drain script wrote ({@code dev.spillway.client.Scripts}); claim moves
 * what apply reads, ack removes only what apply committed.
 */
public final class FlushScripts {
  private FlushScripts() {}

  /**
   * Claim one stripe. KEYS: live, new batch key, batches, epoch, seen. ARGV: new batch id, max
   * pending batches, seen retention in seconds, a random incarnation id (used only when the epoch
   * hash is missing: a new or wiped Redis).
   *
   * <p>Moves live into the batch (RENAME: nothing is read or deleted) unless the stripe already has
   * that many batches waiting, or this batch id exists already (a replayed call must not overwrite
   * a batch). The batch keeps the claim id its live hash was born with (see {@link
   * dev.spillway.client.Scripts#DRAIN}); a live hash without one (written by an older version) is
   * numbered from the epoch hash, {@code <incarnation>:<n>}, as before. The epoch's claim counter
   * {@code n} counts every claim, so that exact reads can detect a claim racing them. The batch
   * also records its own id, field {@code #batch}, so that a reply read under one id can be checked
   * to be that batch's. Returns the ids of all batches waiting.
   */
  public static final LuaScript CLAIM =
      new LuaScript(
          "claim",
          """
          if redis.call('EXISTS', KEYS[1]) == 1
              and redis.call('SCARD', KEYS[3]) < tonumber(ARGV[2])
              and redis.call('EXISTS', KEYS[2]) == 0
              and redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then
            local n = redis.call('HINCRBY', KEYS[4], 'n', 1)
            if redis.call('HEXISTS', KEYS[1], '#claim') == 0 then
              -- a live hash written by a version that did not give it an id at birth
              if redis.call('HEXISTS', KEYS[4], 'inc') == 0 then
                redis.call('HSET', KEYS[4], 'inc', ARGV[4])
              end
              redis.call('HSET', KEYS[1], '#claim', redis.call('HGET', KEYS[4], 'inc') .. ':' .. n)
            end
            redis.call('RENAME', KEYS[1], KEYS[2])
            redis.call('HSET', KEYS[2], '#batch', ARGV[1])
            redis.call('SADD', KEYS[3], ARGV[1])
          end
          if redis.call('HLEN', KEYS[5]) > 32 then
            local now = tonumber(redis.call('TIME')[1])
            local all = redis.call('HGETALL', KEYS[5])
            for i = 1, #all, 2 do
              local t = tonumber(string.match(all[i + 1], ':(%d+)$') or '0')
              if now - t > tonumber(ARGV[3]) then redis.call('HDEL', KEYS[5], all[i]) end
            end
          end
          return redis.call('SMEMBERS', KEYS[3])
          """);

  /**
   * Acknowledge a batch. KEYS: batch key, batches. ARGV: batch id, mode. Mode {@code applied} (or
   * absent): PostgreSQL committed the batch; delete it and its id. Mode {@code unread}: the batch
   * read back empty (a concurrent flusher acknowledged it first); only the id leaves the set, and
   * only if the key is really gone: a key that still exists holds cells nobody applied (the empty
   * reply came from a confused connection), so nothing is removed and -1 is returned.
   */
  public static final LuaScript ACK =
      new LuaScript(
          "ack",
          """
          if ARGV[2] == 'unread' then
            if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
            return redis.call('SREM', KEYS[2], ARGV[1])
          end
          redis.call('DEL', KEYS[1])
          return redis.call('SREM', KEYS[2], ARGV[1])
          """);

  /**
   * Move adopted keys into one batch (GETDEL semantics, atomically). KEYS: batch, batches, then the
   * adopted keys (each already checked against the mapping's key-regex by the caller). ARGV: batch
   * id, the mapping's type ({@code string} or {@code hash}). Only a key of that type is moved: a
   * string becomes field {@code s|<key>}; each field of a hash becomes {@code h|<key byte
   * length>|<key><field>}. A key of any other type belongs to someone else and is not touched (the
   * type is checked here, atomically with the move, because a writer may change it between SCAN and
   * this call). Returns the type each key had, in order ({@code none}: already gone, taken by a
   * concurrent run), so the caller counts what it moved and what it left alone; a call whose batch
   * exists already (a replay) moves nothing and returns an empty list.
   *
   * <p>Batches written by earlier versions may also hold {@code x|<key>} = type: a key of the wrong
   * type that was renamed to a quarantine key; the flusher still dead-letters those.
   */
  public static final LuaScript ADOPT_CLAIM =
      new LuaScript(
          "adopt-claim",
          """
          if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
            return {} -- a replayed call: this batch exists already; never overwrite it
          end
          local types = {}
          local moved = 0
          local fields = {}
          local gone = {}
          for i = 3, #KEYS do
            local k = KEYS[i]
            local t
            if ARGV[2] == 'string' then
              -- One call for the common case; only a key of another type is asked its type.
              local v = redis.pcall('GETDEL', k)
              if type(v) == 'string' then
                t = 'string'
                fields[#fields + 1] = 's|' .. k
                fields[#fields + 1] = v
                moved = moved + 1
              elseif v == false then
                t = 'none'
              else
                t = redis.call('TYPE', k)['ok']
              end
            else
              t = redis.call('TYPE', k)['ok']
              if t == 'hash' then
                local all = redis.call('HGETALL', k)
                for j = 1, #all, 2 do
                  fields[#fields + 1] = 'h|' .. #k .. '|' .. k .. all[j]
                  fields[#fields + 1] = all[j + 1]
                end
                gone[#gone + 1] = k
                moved = moved + 1
              end
            end
            types[#types + 1] = t
          end
          -- Written in bulk, a thousand arguments a call (Lua's stack bounds unpack).
          for j = 1, #fields, 1000 do
            redis.call('HSET', KEYS[1], unpack(fields, j, math.min(j + 999, #fields)))
          end
          for j = 1, #gone, 1000 do
            redis.call('DEL', unpack(gone, j, math.min(j + 999, #gone)))
          end
          if moved > 0 then redis.call('SADD', KEYS[2], ARGV[1]) end
          return types
          """);
}
