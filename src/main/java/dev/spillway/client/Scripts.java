package dev.spillway.client;

import dev.spillway.layout.CellField;
import dev.spillway.redis.LuaScript;

/**
 * The client's Lua scripts (the cell separator in their text is {@link CellField#SEP}, filled in
 * where the text says {@code {SEP}}): the drain that writes cells into a stripe's live hash and the
 * exact read's snapshot (DESIGN.md, "Data flow"). The flusher's scripts, which move and remove what
 * the drain wrote, are {@link dev.spillway.flush.FlushScripts}; their contracts interlock: drain
 * writes what claim moves, claim moves what apply reads, ack removes only what apply committed.
 */
public final class Scripts {
  private Scripts() {}

  /**
   * Client drain, idempotent per packet. KEYS: live, seen, and for a resync packet also a new batch
   * key, batches and epoch. ARGV: client id, packet seq, resync flag, then field/delta pairs.
   * Returns {1, seq} applied, {0, last} duplicate (already applied: a retry after a lost reply), or
   * {-1, last} gap: an earlier packet of this client for this stripe is missing. A client's first
   * packet for a stripe must be number 1: a higher number with no record of the client means Redis
   * forgot earlier packets, or that they are still on their way (a cluster client may reorder a
   * pipeline to a node it is still connecting to), and accepting it would make them duplicates,
   * silently dropped, when they arrive. A gap the client cannot fill (Redis lost packets it had
   * acknowledged: a rollback, restart or failover) is resent with the resync flag, which accepts
   * it. A delta Redis refuses (the cell would overflow int64, or holds a non-integer) is kept under
   * a unique {@code !}-prefixed field so that the flusher dead-letters it; nothing is half-applied,
   * because no other error can occur after the first write.
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
                redis.call('HSET', KEYS[1], '!' .. ARGV[1] .. ':' .. seq .. ':' .. i .. '{SEP}' .. ARGV[i], ARGV[i + 1])
              else
                return redis.error_reply(r.err)
              end
            end
          end
          redis.call('HSET', KEYS[2], ARGV[1], seq .. ':' .. redis.call('TIME')[1])
          return {1, seq}
          """
              .replace("{SEP}", String.valueOf(CellField.SEP)));

  /**
   * Snapshot for an exact read. KEYS: live, epoch, batches, then one key per batch id in ARGV[3..].
   * ARGV: counter, key, batch ids. Returns {-1} when the batches set no longer matches the ids (the
   * caller retries), else {claim counter, {live cells}, {cells of batch 1}, ...}, each list holding
   * field, value, field, value... of the cells of (counter, key) whatever their buckets (the
   * fields, so that a value that is not an integer can be named where it sits).
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
          local prefix = ARGV[1] .. '{SEP}'
          local suffix = '{SEP}' .. ARGV[2]
          local function pick(key)
            local out = {}
            local all = redis.call('HGETALL', key)
            for i = 1, #all, 2 do
              local f = all[i]
              if string.sub(f, 1, #prefix) == prefix then
                local rest = string.sub(f, #prefix)
                local p = string.find(rest, '{SEP}', 2, true)
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
          """
              .replace("{SEP}", String.valueOf(CellField.SEP)));
}
