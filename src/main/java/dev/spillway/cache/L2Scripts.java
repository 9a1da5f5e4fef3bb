package dev.spillway.cache;

import dev.spillway.redis.LuaScript;

/**
 * The Lua scripts of the cache's Redis side ({@link L2}): the load lease with its generation
 * snapshot, the guarded writes, invalidation and tag versions. Each touches only keys of one hash
 * tag (see {@link CacheKeys}), so they run on Redis Cluster unchanged, and every key a script
 * writes gets its TTL in the same script.
 */
final class L2Scripts {
  private L2Scripts() {}

  /**
   * {@code {2, '0', envelope}} if the entry exists and ARGV[3] asks to look, else {@code {acquired
   * 0|1, invalidations}}: take the load lease, snapshot the key's generation. Looking and taking in
   * one script matters: a GET then a SET NX would let a waiter see "no entry", then find the lease
   * freed by a holder that wrote in between, and load a second time.
   */
  static final LuaScript ACQUIRE =
      new LuaScript(
          "acquire",
          """
          if ARGV[3] == '1' then
            local v = redis.call('GET', KEYS[3])
            if v then return {2, '0', v} end
          end
          local got = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
          local inv = redis.call('GET', KEYS[2]) or '0'
          if got then return {1, inv} end
          return {0, inv}
          """);

  /**
   * Sets a marker key whose TTL only ever grows: another runtime with a shorter lifetime must not
   * cut short the life a longer-lived reader counts on. Returns 1.
   */
  static final LuaScript EXTEND =
      new LuaScript(
          "extend",
          """
          if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
            redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
          end
          return 1
          """);

  /**
   * Writes the envelope only if the key's generation is still the snapshot (no invalidation since
   * the load began), then releases the lease if it is still ours. Returns 1 if written.
   */
  static final LuaScript WRITE =
      new LuaScript(
          "write",
          """
          local ok = 0
          if (redis.call('GET', KEYS[2]) or '0') == ARGV[3] then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            ok = 1
          end
          if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then
            redis.call('DEL', KEYS[3])
          end
          return ok
          """);

  static final LuaScript RELEASE =
      new LuaScript(
          "release",
          """
          if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
          return 0
          """);

  /** Deletes the entry and moves the key's generation on; the generation lives max-load-time. */
  static final LuaScript INVALIDATE =
      new LuaScript(
          "invalidate",
          """
          redis.call('DEL', KEYS[1])
          local n = redis.call('INCR', KEYS[2])
          redis.call('PEXPIRE', KEYS[2], ARGV[1])
          return n
          """);

  /**
   * Write-through: moves the key's generation on and sets the envelope, atomically, so a load that
   * snapshotted the old generation can no longer write (its {@link #WRITE} compares and finds
   * another number). With ARGV[3] non-empty, only if the generation is still ARGV[3] (the number
   * {@link #BEGIN_WRITE} handed out: no other write or invalidation of the key since). Returns 1 if
   * written.
   */
  static final LuaScript PUT =
      new LuaScript(
          "put",
          """
          if ARGV[3] ~= '' and (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] then return 0 end
          redis.call('INCR', KEYS[2])
          redis.call('PEXPIRE', KEYS[2], ARGV[4])
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          return 1
          """);

  /**
   * Before a write-through's database write: moves the key's generation on (so loads already
   * running cannot write what they read before it) and returns the new number, which only this
   * writer holds; the entry stays, since the database has not changed yet.
   */
  static final LuaScript BEGIN_WRITE =
      new LuaScript(
          "begin_write",
          """
          local n = redis.call('INCR', KEYS[1])
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
          return n
          """);

  /**
   * {@link #INVALIDATE}, but only where something could serve or write a stale value: an entry
   * (KEYS[1]) or a load in flight (its lease, KEYS[3]). A flush applies every counter key it
   * touched, and most are cached nowhere: skipping them saves a write, a generation key and its
   * replication per flushed cell. A load that starts after this check reads PostgreSQL after the
   * flush committed; one that started before holds the lease, so its write is refused. Only a load
   * that outlives every lease (longer than {@code lease-time}) can still write an older total,
   * bounded by {@code counters-ttl}, as a lost invalidation message would be.
   */
  static final LuaScript INVALIDATE_IF_CACHED =
      new LuaScript(
          "invalidate_if_cached",
          """
          if redis.call('EXISTS', KEYS[1], KEYS[3]) == 0 then return 0 end
          redis.call('DEL', KEYS[1])
          local n = redis.call('INCR', KEYS[2])
          redis.call('PEXPIRE', KEYS[2], ARGV[1])
          return n
          """);

  /**
   * Gives the tag a new version: the server's clock in microseconds, or one past the cache's last
   * version if that is larger. Versions never repeat, even after the sequence key expired (the
   * clock has moved on), so an entry that recorded an old version can never match again.
   */
  static final LuaScript BUMP_TAG =
      new LuaScript(
          "bump_tag",
          """
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
          local last = tonumber(redis.call('GET', KEYS[1]) or '0')
          local n = math.max(now, last + 1)
          redis.call('SET', KEYS[1], string.format('%d', n), 'PX', ARGV[1])
          redis.call('SET', KEYS[2], string.format('%d', n), 'PX', ARGV[1])
          return n
          """);
}
