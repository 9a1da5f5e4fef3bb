package dev.spillway.counter;

/**
 * The Lua scripts of the protocol, one atomic step each (DESIGN.md, "Data flow"). Kept in one
 * place because their contracts interlock: drain writes what claim moves, claim moves what apply
 * reads, ack removes only what apply committed.
 */
public final class Scripts {
  private Scripts() {}

  /**
   * Client drain, idempotent per packet. KEYS: live, seen. ARGV: client id, packet seq, resync
   * flag, then field/delta pairs. Returns {1, seq} applied, {0, last} duplicate (already applied:
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
   */
  public static final LuaScript DRAIN =
      new LuaScript(
          "drain",
          """
          local v = redis.call('HGET', KEYS[2], ARGV[1])
          local seq = tonumber(ARGV[2])
          if v then
            local last = tonumber(string.match(v, '^(%d+)'))
            if seq <= last then return {0, last} end
            if seq ~= last + 1 and ARGV[3] ~= '1' then return {-1, last} end
          elseif seq ~= 1 and ARGV[3] ~= '1' then
            return {-1, 0}
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
   * overwrite a batch). Numbers the claim: the epoch hash holds the stripe's incarnation and claim
   * counter, and the batch records them as field {@code #claim} = {@code <incarnation>:<n>}. If
   * Redis ever rolls back (AOF everysec, a lagging replica promoted) to before a claim that was
   * applied, the next claim reuses that number, and the ledger, which holds it, refuses the batch
   * instead of counting the resurrected cells twice. Returns the ids of all batches waiting.
   */
  public static final LuaScript CLAIM =
      new LuaScript(
          "claim",
          """
          if redis.call('EXISTS', KEYS[1]) == 1
              and redis.call('SCARD', KEYS[3]) < tonumber(ARGV[2])
              and redis.call('EXISTS', KEYS[2]) == 0
              and redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then
            if redis.call('HEXISTS', KEYS[4], 'inc') == 0 then
              redis.call('HSET', KEYS[4], 'inc', ARGV[4])
            end
            local n = redis.call('HINCRBY', KEYS[4], 'n', 1)
            redis.call('RENAME', KEYS[1], KEYS[2])
            redis.call('HSET', KEYS[2], '#claim', redis.call('HGET', KEYS[4], 'inc') .. ':' .. n)
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

  /** Acknowledge an applied batch. KEYS: batch key, batches. ARGV: batch id. */
  public static final LuaScript ACK =
      new LuaScript(
          "ack",
          """
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
   * pairs (adopted key, its quarantine key). ARGV: batch id, expected type ({@code string} or
   * {@code hash}). A string becomes field {@code s|<key>}; each field of a hash becomes {@code
   * h|<key byte length>|<key><field>}; a key of another type is renamed to its quarantine key and
   * recorded as {@code x|<key>} = its type. Keys already gone (taken by a concurrent run) are
   * skipped; a call whose batch exists already (a replay) moves nothing. Returns the number of
   * keys moved.
   */
  public static final LuaScript ADOPT_CLAIM =
      new LuaScript(
          "adopt-claim",
          """
          if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
            return 0 -- a replayed call: this batch exists already; never overwrite it
          end
          local moved = 0
          for i = 3, #KEYS, 2 do
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
            elseif t ~= 'none' then
              redis.call('RENAME', k, KEYS[i + 1])
              redis.call('HSET', KEYS[1], 'x|' .. k, t)
              moved = moved + 1
            end
          end
          if moved > 0 then redis.call('SADD', KEYS[2], ARGV[1]) end
          return moved
          """);
}
