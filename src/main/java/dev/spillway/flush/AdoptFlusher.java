package dev.spillway.flush;

import dev.spillway.runtime.Errors;
import dev.spillway.config.AdoptMapping;
import dev.spillway.SpillwayConfig;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.redis.ReplicationFence;
import dev.spillway.layout.KeyLayout;
import dev.spillway.redis.LuaScript;
import dev.spillway.metrics.SpillwayMeters;
import dev.spillway.store.AdoptBatch;
import dev.spillway.store.AdoptStore;
import dev.spillway.store.ApplyResult;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Flushes keys that existing code writes ({@code INCR views:123}) into the user's tables with the
 * same claim / apply / ack protocol as native counters (DESIGN.md, "Adopted keys"):
 *
 * <ol>
 *   <li><b>recover</b>: batches left by an earlier run (in the mapping's batches set) are applied
 *       first; the ledger skips those already applied;
 *   <li><b>claim</b>: {@code SCAN MATCH pattern COUNT n} (never KEYS: each call does bounded work,
 *       so Redis keeps answering other clients); the keys found are moved by one {@link
 *       FlushScripts#ADOPT_CLAIM} call per batch — GETDEL semantics for strings, the whole hash for
 *       hashes, atomically — into a batch hash registered in the batches set;
 *   <li><b>apply</b> in one transaction per group of batches ({@link AdoptStore#apply}), then
 *       <b>ack</b> (DEL plus SREM).
 * </ol>
 *
 * <p>Adopt touches only what it can apply. SCAN MATCH returns whatever matches a glob, and other
 * code's keys (sessions, locks, queues) may share it: a key is moved only when it is text ({@link
 * RedisText}: found with a byte-array codec, so a key that is not valid UTF-8 is seen, not
 * mangled), matches {@code key-regex} (checked here) and holds the mapping's Redis type (checked
 * by the claim script, atomically with the move). Every other key stays exactly as it was — no
 * DEL, no RENAME, value, type and TTL unchanged — and is counted in the run's {@link LeftAlone}
 * report and the {@code spillway.adopt.keys.left.alone} meter. A key that is not text is left
 * alone rather than adopted because no row could be named from it exactly.
 *
 * <p>Writers keep writing meanwhile: an INCR that lands after its key was moved creates a fresh
 * key, which this run's SCAN or the next run takes. Nothing is deleted from Redis before
 * PostgreSQL has committed it, and the ledger makes every batch count once.
 *
 * <p>On a single Redis every batch lives under the hash tag {@code a}; on Redis Cluster, the SCAN
 * visits every master and keys are claimed in groups of one slot, each batch under a tag of that
 * slot ({@link AdoptKeys}), so every script still touches one slot.
 */
public final class AdoptFlusher {
  private static final Logger log = LoggerFactory.getLogger(AdoptFlusher.class);
  /** Keys moved per claim script call (and so per batch). */
  static final int KEYS_PER_BATCH = 500;
  /** Keys gathered per round of claims on a cluster, where they are split by slot. */
  static final int KEYS_PER_CLUSTER_ROUND = 20_000;

  private final KeyLayout layout;
  private final AdoptKeys keys;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  /** SCAN and batch reads, as bytes: keys and values are not always UTF-8. */
  private final StatefulConnection<byte[], byte[]> bytesConnection;
  private final RedisClusterAsyncCommands<byte[], byte[]> bytes;
  private final byte[] ownPrefix;
  private final AdoptStore store;
  private final SpillwayConfig config;
  private final SpillwayMeters meters;
  private final FlushListener listener;
  private final InstantSource clock;
  private final SecureRandom random = new SecureRandom();
  private final ReplicationFence fence;

  public AdoptFlusher(
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      StatefulConnection<byte[], byte[]> bytesConnection,
      RedisClusterAsyncCommands<byte[], byte[]> bytes,
      AdoptStore store,
      SpillwayConfig config,
      SpillwayMeters meters,
      FlushListener listener,
      InstantSource clock) {
    this.layout = layout;
    this.connection = connection;
    this.fence = new ReplicationFence(connection, config.redisTimeout(), config);
    this.redis = redis;
    this.bytesConnection = bytesConnection;
    this.bytes = bytes;
    this.ownPrefix = layout.prefix().getBytes(StandardCharsets.UTF_8);
    this.store = store;
    this.config = config;
    this.meters = meters;
    this.listener = listener == null ? FlushListener.NONE : listener;
    this.clock = clock;
    this.keys = new AdoptKeys(layout, config.redisCluster());
    connection.setAutoFlushCommands(false);
  }

  private static final class Run {
    int claimed;
    int applied;
    int duplicate;
    int failed;
    long cells;
    long rows;
    long deadLetters;
    final List<String> errors = new ArrayList<>();
    final List<String> pending = new ArrayList<>();
    int pendingCells;
    final LeftAlone.Tally leftAlone = new LeftAlone.Tally();
  }

  /** One run of a mapping: recover, then claim everything matching, apply, ack. */
  public synchronized FlushReport run(AdoptMapping m) {
    long start = System.nanoTime();
    Run run = new Run();
    fence.newRun();
    try {
      List<String> leftovers = leftovers(m);
      if (!leftovers.isEmpty()) {
        run.pending.addAll(leftovers);
        applyPending(m, run);
      }
      scanAndClaim(m, run);
      applyPending(m, run);
    } catch (RuntimeException e) {
      run.errors.add(Errors.rootMessage(e));
      log.warn("event=adopt_error mapping={} error=\"{}\"", m.name(), Errors.rootMessage(e));
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    LeftAlone leftAlone = run.leftAlone.result();
    meters.adoptKeysLeftAlone(m.name(), leftAlone.notMatchingRegex(), leftAlone.notText(), leftAlone.wrongType());
    FlushReport r =
        new FlushReport(0, run.claimed, run.applied, run.duplicate, run.failed, run.cells, run.rows,
            run.deadLetters, took, Duration.ZERO, List.copyOf(run.errors), leftAlone);
    if (!r.ok()) {
      log.warn("event=adopt_incomplete mapping={} {}", m.name(), r);
    } else if (r.batchesApplied() > 0) {
      log.debug("event=adopt mapping={} {}", m.name(), r);
    }
    return r;
  }

  /** Batch ids left in the mapping's batches set(s) by earlier runs. */
  private List<String> leftovers(AdoptMapping m) {
    List<String> sets = keys.batchesSets(redis, m.name(), connection::flushCommands, config.redisTimeout());
    List<CompletableFuture<Set<String>>> reads = new ArrayList<>(sets.size());
    for (String set : sets) {
      reads.add(redis.smembers(set).toCompletableFuture());
    }
    connection.flushCommands();
    List<String> ids = new ArrayList<>();
    for (CompletableFuture<Set<String>> f : reads) {
      ids.addAll(await(f));
    }
    return ids;
  }

  /**
   * SCANs the mapping's pattern (on a cluster: every master in turn) and claims what it finds in
   * batches of at most {@link #KEYS_PER_BATCH} keys of one batch tag (one slot on a cluster), the
   * claims of one page pipelined. Keys that are not text or do not match key-regex are counted and
   * never passed to the claim script.
   */
  private void scanAndClaim(AdoptMapping m, Run run) {
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
        } else if (byTag.computeIfAbsent(keys.tagForKey(key), t -> new LinkedHashSet<>()).add(key)) {
          found++;
        }
      }
      cursor = page;
      boolean full = byTag.values().stream().anyMatch(g -> g.size() >= KEYS_PER_BATCH);
      // On a cluster keys spread over up to 16384 slots: gather more keys per round, so that a
      // batch (one slot's keys) holds more than one key.
      int round = keys.cluster() ? KEYS_PER_CLUSTER_ROUND : KEYS_PER_BATCH;
      if (full || found >= round || (cursor.isFinished() && found > 0)) {
        claim(m, byTag, run);
        byTag.clear();
        found = 0;
        if (run.pendingCells >= config.flushMaxCellsPerTransaction()) {
          if (!applyPending(m, run)) {
            return; // PostgreSQL failing: what was claimed waits in Redis for the next run
          }
        }
      }
    } while (!cursor.isFinished());
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

  /** One {@link FlushScripts#ADOPT_CLAIM} per tag group (split at {@link #KEYS_PER_BATCH}), pipelined. */
  private void claim(AdoptMapping m, Map<String, Set<String>> byTag, Run run) {
    List<String> ids = new ArrayList<>();
    List<String[]> calls = new ArrayList<>();
    List<List<String>> parts = new ArrayList<>();
    for (var group : byTag.entrySet()) {
      List<String> all = new ArrayList<>(group.getValue());
      for (int from = 0; from < all.size(); from += KEYS_PER_BATCH) {
        List<String> part = all.subList(from, Math.min(all.size(), from + KEYS_PER_BATCH));
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
        meters.batchesClaimed.increment();
        run.pending.add(ids.get(i));
        run.pendingCells += (int) n;
        listener.afterClaim(List.of(ids.get(i)));
      }
    }
  }

  /**
   * Sends the claims, pipelined; after a NOSCRIPT (a node that never ran the script) resends the
   * refused ones once as EVAL. A claim that fails otherwise fails the run: whether it moved its
   * keys is unknown, and if it did they wait in its batches set for the next run's recovery.
   */
  private List<List<Object>> sendClaims(List<String[]> calls, String type, List<String> ids) {
    List<List<Object>> moved = new ArrayList<>(java.util.Collections.nCopies(calls.size(), List.of()));
    List<Integer> todo = new ArrayList<>();
    for (int i = 0; i < calls.size(); i++) {
      todo.add(i);
    }
    for (int attempt = 0; !todo.isEmpty(); attempt++) {
      List<CompletableFuture<List<Object>>> futures = new ArrayList<>(todo.size());
      for (int i : todo) {
        futures.add(FlushScripts.ADOPT_CLAIM.evalsha(redis, ScriptOutputType.MULTI, calls.get(i), ids.get(i), type));
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

  /** Reads, applies and acks every pending batch; false when PostgreSQL failed. */
  private boolean applyPending(AdoptMapping m, Run run) {
    if (run.pending.isEmpty()) {
      return true;
    }
    long t0 = System.nanoTime();
    List<String> ids = fence.confirmed(
        run.pending, id -> keys.batches(m.name(), AdoptKeys.tagOf(id)), id -> id);
    if (ids.size() < run.pending.size()) {
      run.errors.add(
          (run.pending.size() - ids.size()) + " adopt batch(es) left pending: their claims were"
              + " not confirmed by the master's replicas in time (Redis Cluster); the next run"
              + " retries");
    }
    run.pending.clear();
    run.pendingCells = 0;
    List<CompletableFuture<Map<byte[], byte[]>>> reads = new ArrayList<>();
    for (String id : ids) {
      reads.add(bytes.hgetall(keys.batch(m.name(), id).getBytes(StandardCharsets.UTF_8)).toCompletableFuture());
    }
    bytesConnection.flushCommands();
    List<AdoptBatch> batches = new ArrayList<>();
    Set<String> done = new LinkedHashSet<>();
    List<String> unread = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      Map<byte[], byte[]> content = awaitBytes(reads.get(i));
      if (content.isEmpty()) {
        unread.add(ids.get(i)); // acknowledged meanwhile by a concurrent run, if its key is gone
      } else {
        batches.add(AdoptBatchReader.read(keys, m, ids.get(i), content));
      }
    }
    boolean healthy = true;
    long t1 = System.nanoTime();
    meters.flushPhases.record("adopt_read", t1 - t0);
    if (!batches.isEmpty()) {
      try {
        ApplyResult r = store.apply(m, batches, listener::beforeCommit);
        run.applied += r.applied().size();
        run.duplicate += r.duplicates().size();
        run.rows += r.totalRows();
        run.deadLetters += r.deadLetters();
        for (AdoptBatch b : batches) {
          if (r.applied().contains(b.batchId())) {
            run.cells += b.cells().size();
          }
          done.add(b.batchId());
        }
        meters.batchesApplied.increment(r.applied().size());
        meters.batchesDuplicate.increment(r.duplicates().size());
        meters.rowsUpserted.increment(r.totalRows());
        meters.deadLetters.increment(r.deadLetters());
        if (r.deadLetters() > 0) {
          log.warn("event=dead_letters mapping={} count={}", m.name(), r.deadLetters());
        }
        listener.afterCommit(Set.copyOf(done));
      } catch (dev.spillway.SpillwayException e) {
        healthy = false;
        run.failed += batches.size();
        meters.batchesFailed.increment(batches.size());
        run.errors.add(Errors.rootMessage(e));
        log.warn("event=adopt_apply_failed mapping={} batches={} error=\"{}\" action=left_pending_in_redis",
            m.name(), batches.size(), Errors.rootMessage(e));
      }
    }
    long t2 = System.nanoTime();
    meters.flushPhases.record("adopt_apply", t2 - t1);
    ack(m, done);
    ackUnread(m, unread, run);
    meters.flushPhases.record("adopt_ack", System.nanoTime() - t2);
    return healthy;
  }

  /** Drops the ids of batches read back empty, each only if its key is gone (never deletes). */
  private void ackUnread(AdoptMapping m, List<String> unread, Run run) {
    if (unread.isEmpty()) {
      return;
    }
    List<String[]> batchKeys = new ArrayList<>(unread.size());
    for (String id : unread) {
      batchKeys.add(new String[] {keys.batch(m.name(), id), keys.batches(m.name(), AdoptKeys.tagOf(id))});
    }
    List<String> kept = new ArrayList<>();
    for (String failure :
        BatchAcks.sendUnread(connection, redis, batchKeys, unread,
            config.replyWaitMillis(), kept)) {
      log.warn("event=adopt_ack_failed mapping={} error=\"{}\"", m.name(), failure);
    }
    if (!kept.isEmpty()) {
      run.errors.add(kept.size() + " adopt batch(es) read back empty although their keys hold"
          + " data (first: " + kept.get(0) + "); left pending, untouched, for the next run");
      log.error("event=batch_read_empty mapping={} batches={} first={} action=left_pending",
          m.name(), kept.size(), kept.get(0));
    }
  }

  private void ack(AdoptMapping m, Set<String> done) {
    if (done.isEmpty()) {
      return;
    }
    List<String[]> batchKeys = new ArrayList<>(done.size());
    List<String> ids = new ArrayList<>(done);
    for (String id : ids) {
      batchKeys.add(new String[] {keys.batch(m.name(), id), keys.batches(m.name(), AdoptKeys.tagOf(id))});
    }
    for (String failure :
        BatchAcks.send(connection, redis, batchKeys, ids, config.replyWaitMillis())) {
      // Harmless: the next run finds the batch in the ledger and acknowledges it.
      log.warn("event=adopt_ack_failed mapping={} error=\"{}\"", m.name(), failure);
    }
    listener.afterAck(Set.copyOf(done));
  }


  private <T> T awaitBytes(CompletableFuture<T> f) {
    return PipelinedReplies.reply(bytesConnection, f, config.replyWaitMillis());
  }

  /** A reply; the caller has flushed the pipeline (the wait flushes again for redirects). */
  private <T> T await(CompletableFuture<T> f) {
    return PipelinedReplies.reply(connection, f, config.replyWaitMillis());
  }

}
