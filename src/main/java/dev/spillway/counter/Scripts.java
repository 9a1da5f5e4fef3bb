package dev.spillway.counter;

/**
 * The Lua scripts of the protocol, one atomic step each (DESIGN.md, "Data flow"). Kept in one
 * place because their contracts interlock: drain writes what claim moves, claim moves what apply
 * reads, ack removes only what apply committed.
 */
public final class Scripts {
  private Scripts() {}

  /**
   * Client drain, idempotent per packet. KEYS: live, seen, and for a resync packet also a new
   * batch key, batches and epoch. ARGV: client id, packet seq, resync flag, then field/delta
   * pairs. Returns {1, seq} applied, {0, last} duplicate (already applied:
   * a retry after a lost reply), or {-1, last} gap: an earlier packet of this client for this
   * stripe is missing. A client's first packet for a stripe must be number 1: a higher number
   * with no record of the client means Redis forgot earlier packets, or that they are still on
   * their way (a cluster client may reorder a pipeline to a node it is still connecting to), and
   * accepting it would make them duplicates, silently dropped, when they arrive. A gap the client
   * cannot fill (Redis lost packets it had acknowledged: a rollback, restart or failover) is resent
   * with the resync flag, which accepts it. A delta Redis refuses
   * (the cell would overflow int64, or holds a non-integer) is kept under a unique
   * {@code !}-prefixed field so that the flusher dead-letters it; nothing is half-applied, because
   * no other error can occur after the first write.
   *
   * <p>The packet that creates the live hash also gives it its claim id, field {@code #claim} =
   * {@code b/<client>/<seq>}, unique per stripe (client ids are random per runtime) and written in
   * the same atomic step as the first cell. The id travels with the cells: the claim renames the
   * hash, so the batch carries it into the ledger (unique per stripe). A Redis restored from any
   * earlier moment holds either no cells of that hash or the cells with their id, and an id the
   * ledger already holds marks the batch as resurrected instead of counting it again. A resent
   * packet that re-creates a hash after a rollback gets the same id as before: it holds the same
   * cells, which the ledger may already hold. A resync packet that finds the gap first seals the
   * live hash it finds into the given batch key (an early claim), so that cells written after a
   * rollback are not parked with a resurrected hash's.
   */
  public static final LuaScript DRAIN =
      new LuaScript(
          "drain",
          """
          local v = redis.call('HGET', KEYS[2], ARGV[1])
          local seq = tonumber(ARGV[2])
          local gap
          if v then
            local last = tonumber(string.match(v, '^(%d+)'))
            if seq <= last then return {0, last} end
            gap = seq ~= last + 1
            if gap and ARGV[3] ~= '1' then return {-1, last} end
          else
            gap = seq ~= 1
            if gap and ARGV[3] ~= '1' then return {-1, 0} end
          end
          if gap and #KEYS >= 5 and redis.call('HEXISTS', KEYS[1], '#claim') == 1
              and redis.call('EXISTS', KEYS[3]) == 0 then
            -- Redis lost packets it had acknowledged: it came back from an earlier state, and the
            -- live hash may be one already applied. Seal it (an early claim, keeping its id) so
            -- that these cells start a hash of their own instead of joining a resurrected one.
            redis.call('HINCRBY', KEYS[5], 'n', 1)
            redis.call('RENAME', KEYS[1], KEYS[3])
            local id = string.match(KEYS[3], ':batch:(.+)$')
            redis.call('HSET', KEYS[3], '#batch', id)
            redis.call('SADD', KEYS[4], id)
          end
          if redis.call('EXISTS', KEYS[1]) == 0 then
            redis.call('HSET', KEYS[1], '#claim', 'b/' .. ARGV[1] .. '/' .. ARGV[2])
          end
          for i = 4, #ARGV, 2 do
            local r = redis.pcall('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
            if type(r) == 'table' and r.err then
              if string.find(r.err, 'overflow', 1, true) or string.find(r.err, 'not an integer', 1, true) then
                redis.call('HSET', KEYS[1], '!' .. ARGV[1] .. ':' .. seq .. ':' .. i .. '|' .. ARGV[i], ARGV[i + 1])
              else
                return redis.error_reply(r.err)
              end
            end
          end
          redis.call('HSET', KEYS[2], ARGV[1], seq .. ':' .. redis.call('TIME')[1])
          return {1, seq}
          """);

  /**
   * Claim one stripe. KEYS: live, new batch key, batches, epoch, seen. ARGV: new batch id, max
   * pending batches, seen retention in seconds, a random incarnation id (used only when the epoch
   * hash is missing: a new or wiped Redis).
   *
   * <p>Moves live into the batch (RENAME: nothing is read or deleted) unless the stripe already
   * has that many batches waiting, or this batch id exists already (a replayed call must not
   * overwrite a batch). The batch keeps the claim id its live hash was born with (see {@link
   * #DRAIN}); a live hash without one (written by an older version) is numbered from the epoch
   * hash, {@code <incarnation>:<n>}, as before. The epoch's claim counter {@code n} counts every
   * claim, so that exact reads can detect a claim racing them. The batch also records its own id,
   * field {@code #batch}, so that a reply read under one id can be checked to be that batch's.
   * Returns the ids of all batches waiting.
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
   * Snapshot for an exact read. KEYS: live, epoch, batches, then one key per batch id in ARGV[3..].
   * ARGV: counter, key, batch ids. Returns {-1} when the batches set no longer matches the ids
   * (the caller retries), else {claim counter, {live cells}, {cells of batch 1}, ...}, each list
   * holding field, value, field, value... of the cells of (counter, key) whatever their buckets
   * (the fields, so that a value that is not an integer can be named where it sits).
   */
  public static final LuaScript READ =
      new LuaScript(
          "read",
          """
          local n = #ARGV - 2
          if redis.call('SCARD', KEYS[3]) ~= n then return {-1} end
          for i = 3, #ARGV do
            if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 0 then return {-1} end
          end
          local prefix = ARGV[1] .. '|'
          local suffix = '|' .. ARGV[2]
          local function pick(key)
            local out = {}
            local all = redis.call('HGETALL', key)
            for i = 1, #all, 2 do
              local f = all[i]
              if string.sub(f, 1, #prefix) == prefix then
                local rest = string.sub(f, #prefix)
                local p = string.find(rest, '|', 2, true)
                if p and string.sub(rest, p) == suffix then
                  out[#out + 1] = f
                  out[#out + 1] = all[i + 1]
                end
              end
            end
            return out
          end
          local result = {tonumber(redis.call('HGET', KEYS[2], 'n') or '0'), pick(KEYS[1])}
          for i = 4, #KEYS do result[#result + 1] = pick(KEYS[i]) end
          return result
          """);

  /**
   * Move adopted keys into one batch (GETDEL semantics, atomically). KEYS: batch, batches, then
   * the adopted keys (each already checked against the mapping's key-regex by the caller). ARGV:
   * batch id, the mapping's type ({@code string} or {@code hash}). Only a key of that type is
   * moved: a string becomes field {@code s|<key>}; each field of a hash becomes {@code h|<key byte
   * length>|<key><field>}. A key of any other type belongs to someone else and is not touched (the
   * type is checked here, atomically with the move, because a writer may change it between SCAN
   * and this call). Returns the type each key had, in order ({@code none}: already gone, taken by
   * a concurrent run), so the caller counts what it moved and what it left alone; a call whose
   * batch exists already (a replay) moves nothing and returns an empty list.
   *
   * <p>Batches written by earlier versions may also hold {@code x|<key>} = type: a key of the
   * wrong type that was renamed to a quarantine key; the flusher still dead-letters those.
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
          for i = 3, #KEYS do
            local k = KEYS[i]
            local t = redis.call('TYPE', k)['ok']
            if t == ARGV[2] and t == 'string' then
              redis.call('HSET', KEYS[1], 's|' .. k, redis.call('GET', k))
              redis.call('DEL', k)
              moved = moved + 1
            elseif t == ARGV[2] and t == 'hash' then
              local all = redis.call('HGETALL', k)
              for j = 1, #all, 2 do
                redis.call('HSET', KEYS[1], 'h|' .. #k .. '|' .. k .. all[j], all[j + 1])
              end
              redis.call('DEL', k)
              moved = moved + 1
            end
            types[#types + 1] = t
          end
          if moved > 0 then redis.call('SADD', KEYS[2], ARGV[1]) end
          return types
          """);
}
