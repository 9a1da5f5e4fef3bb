package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.LuaScript;
import dev.spillway.redis.PipelinedReplies;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * The claim step of {@link AdoptFlusher}: SCANs a mapping's pattern and moves what it may adopt
 * into registered batches, pipelined, one {@link FlushScripts#ADOPT_CLAIM} call per batch; every
 * key it must not touch is only counted ({@link LeftAlone}). Claimed batch ids go to the run's
 * pending list for {@link AdoptApplier}.
 */
final class AdoptClaimer {
  private final AdoptKeys keys;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final StatefulConnection<byte[], byte[]> bytesConnection;
  private final RedisClusterAsyncCommands<byte[], byte[]> bytes;
  private final byte[] ownPrefix;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final FlushListener listener;
  private final InstantSource clock;
  private final SecureRandom random = new SecureRandom();

  AdoptClaimer(
      AdoptKeys keys,
      byte[] ownPrefix,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      StatefulConnection<byte[], byte[]> bytesConnection,
      RedisClusterAsyncCommands<byte[], byte[]> bytes,
      SpillwayConfig config,
      SpillwayMetrics meters,
      FlushListener listener,
      InstantSource clock) {
    this.keys = keys;
    this.ownPrefix = ownPrefix;
    this.connection = connection;
    this.redis = redis;
    this.bytesConnection = bytesConnection;
    this.bytes = bytes;
    this.config = config;
    this.meters = meters;
    this.listener = listener;
    this.clock = clock;
  }

  /**
   * SCANs the mapping's pattern (on a cluster: every master in turn) and claims what it finds in
   * batches of at most {@link AdoptFlusher#KEYS_PER_BATCH} keys of one batch tag (one slot on a
   * cluster), the claims of one page pipelined. Keys that are not text or do not match key-regex
   * are counted and never passed to the claim script. After each round of claims, {@code offer} may
   * hand what is pending to PostgreSQL; it returns false when PostgreSQL failed, and the scan
   * stops. The time spent here, but in {@code offer}, is the {@code adopt_claim} phase.
   */
  void scanAndClaim(AdoptMapping m, AdoptFlusher.Run run, BooleanSupplier offer) {
    long t0 = System.nanoTime();
    ScanArgs args = ScanArgs.Builder.matches(m.match()).limit(m.scanCount());
    ScanCursor cursor = ScanCursor.INITIAL;
    Map<String, Set<String>> byTag = new LinkedHashMap<>();
    int found = 0;
    do {
      KeyScanCursor<byte[]> page = awaitBytes(scan(cursor, args));
      for (byte[] raw : page.getKeys()) {
        if (startsWith(raw, ownPrefix)) {
          continue; // never Spillway's own keys (a match that could reach them is refused at start)
        }
        String key = RedisText.text(raw);
        if (key == null) {
          run.leftAlone.notText(raw);
        } else if (!m.keyRegex().matches(key)) {
          run.leftAlone.notMatchingRegex(key);
        } else if (byTag
            .computeIfAbsent(keys.tagForKey(key), t -> new LinkedHashSet<>())
            .add(key)) {
          found++;
        }
      }
      cursor = page;
      boolean full = byTag.values().stream().anyMatch(g -> g.size() >= AdoptFlusher.KEYS_PER_BATCH);
      // On a cluster keys spread over up to 16384 slots: gather more keys per round, so that a
      // batch (one slot's keys) holds more than one key.
      int round =
          keys.cluster() ? AdoptFlusher.KEYS_PER_CLUSTER_ROUND : AdoptFlusher.KEYS_PER_BATCH;
      if (full || found >= round || (cursor.isFinished() && found > 0)) {
        claim(m, byTag, run);
        byTag.clear();
        found = 0;
        meters.phases().record("adopt_claim", System.nanoTime() - t0);
        if (!offer.getAsBoolean()) {
          return; // PostgreSQL failing: what was claimed waits in Redis for the next run
        }
        t0 = System.nanoTime();
      }
    } while (!cursor.isFinished());
    meters.phases().record("adopt_claim", System.nanoTime() - t0);
  }

  private CompletableFuture<KeyScanCursor<byte[]>> scan(ScanCursor cursor, ScanArgs args) {
    var f = cursor == ScanCursor.INITIAL ? bytes.scan(args) : bytes.scan(cursor, args);
    bytesConnection.flushCommands();
    return f.toCompletableFuture();
  }

  private static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }

  /**
   * One {@link FlushScripts#ADOPT_CLAIM} per tag group (split at {@link
   * AdoptFlusher#KEYS_PER_BATCH}), pipelined.
   */
  private void claim(AdoptMapping m, Map<String, Set<String>> byTag, AdoptFlusher.Run run) {
    List<String> ids = new ArrayList<>();
    List<String[]> calls = new ArrayList<>();
    List<List<String>> parts = new ArrayList<>();
    for (var group : byTag.entrySet()) {
      List<String> all = new ArrayList<>(group.getValue());
      for (int from = 0; from < all.size(); from += AdoptFlusher.KEYS_PER_BATCH) {
        List<String> part =
            all.subList(from, Math.min(all.size(), from + AdoptFlusher.KEYS_PER_BATCH));
        String id = keys.newBatchId(m.name(), group.getKey(), clock.millis(), random.nextLong());
        String[] k = new String[2 + part.size()];
        k[0] = keys.batch(m.name(), id);
        k[1] = keys.batches(m.name(), group.getKey());
        for (int i = 0; i < part.size(); i++) {
          k[2 + i] = part.get(i);
        }
        ids.add(id);
        calls.add(k);
        parts.add(part);
      }
    }
    String type = m.type() == AdoptMapping.Type.HASH ? "hash" : "string";
    List<List<Object>> types = sendClaims(calls, type, ids);
    for (int i = 0; i < ids.size(); i++) {
      List<Object> seen = types.get(i);
      int n = 0;
      for (int j = 0; j < seen.size(); j++) {
        String t = String.valueOf(seen.get(j));
        if (t.equals(type)) {
          n++;
        } else if (!t.equals("none")) { // none: gone meanwhile, taken by a concurrent run
          run.leftAlone.wrongType(t, parts.get(i).get(j));
        }
      }
      if (n > 0) {
        run.claimed++;
        meters.batchClaimed();
        run.pending.add(ids.get(i));
        run.pendingCells += (int) n;
        listener.afterClaim(List.of(ids.get(i)));
      }
    }
  }

  /**
   * Sends the claims, pipelined ({@code LuaScript} sends the script's text to a node that lacks it;
   * should NOSCRIPT surface all the same, the refused ones go again once). A claim that fails
   * otherwise fails the run: whether it moved its keys is unknown, and if it did they wait in its
   * batches set for the next run's recovery.
   */
  private List<List<Object>> sendClaims(List<String[]> calls, String type, List<String> ids) {
    List<List<Object>> moved = new ArrayList<>(Collections.nCopies(calls.size(), List.of()));
    List<Integer> todo = new ArrayList<>();
    for (int i = 0; i < calls.size(); i++) {
      todo.add(i);
    }
    for (int attempt = 0; !todo.isEmpty(); attempt++) {
      List<CompletableFuture<List<Object>>> futures = new ArrayList<>(todo.size());
      for (int i : todo) {
        futures.add(
            FlushScripts.ADOPT_CLAIM.evalsha(
                redis, ScriptOutputType.MULTI, calls.get(i), ids.get(i), type));
      }
      connection.flushCommands();
      List<Integer> retry = new ArrayList<>();
      IllegalStateException failure = null;
      for (int j = 0; j < todo.size(); j++) {
        try {
          moved.set(todo.get(j), await(futures.get(j)));
        } catch (IllegalStateException e) {
          if (LuaScript.isNoScript(e) && attempt == 0) {
            retry.add(todo.get(j));
          } else if (failure == null) {
            failure = e;
          }
        }
      }
      if (failure != null) {
        throw failure;
      }
      todo = retry;
    }
    return moved;
  }

  private <T> T awaitBytes(CompletableFuture<T> f) {
    return PipelinedReplies.reply(bytesConnection, f, config.replyWaitMillis());
  }

  /** A reply; the caller has flushed the pipeline (the wait flushes again for redirects). */
  private <T> T await(CompletableFuture<T> f) {
    return PipelinedReplies.reply(connection, f, config.replyWaitMillis());
  }
}
