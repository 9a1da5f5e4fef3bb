package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.layout.KeyLayout;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.redis.ReplicationFence;
import dev.spillway.runtime.Errors;
import dev.spillway.store.AdoptStore;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
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
 * mangled), matches {@code key-regex} (checked here) and holds the mapping's Redis type (checked by
 * the claim script, atomically with the move). Every other key stays exactly as it was — no DEL, no
 * RENAME, value, type and TTL unchanged — and is counted in the run's {@link LeftAlone} report and
 * the {@code spillway.adopt.keys.left.alone} meter. A key that is not text is left alone rather
 * than adopted because no row could be named from it exactly.
 *
 * <p>Writers keep writing meanwhile: an INCR that lands after its key was moved creates a fresh
 * key, which this run's SCAN or the next run takes. Nothing is deleted from Redis before PostgreSQL
 * has committed it, and the ledger makes every batch count once.
 *
 * <p>On a single Redis every batch lives under the hash tag {@code a}; on Redis Cluster, the SCAN
 * visits every master and keys are claimed in groups of one slot, each batch under a tag of that
 * slot ({@link AdoptKeys}), so every script still touches one slot.
 *
 * <p>This class holds the run and its recovery step; claiming is {@link AdoptClaimer}'s, apply and
 * ack {@link AdoptApplier}'s.
 */
public final class AdoptFlusher {
  private static final Logger log = LoggerFactory.getLogger(AdoptFlusher.class);

  /** Keys moved per claim script call (and so per batch). */
  static final int KEYS_PER_BATCH = 500;

  /** Keys gathered per round of claims on a cluster, where they are split by slot. */
  static final int KEYS_PER_CLUSTER_ROUND = 20_000;

  private final AdoptKeys keys;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final ReplicationFence fence;
  private final AdoptClaimer claimer;
  private final AdoptApplier applier;

  public AdoptFlusher(
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      StatefulConnection<byte[], byte[]> bytesConnection,
      RedisClusterAsyncCommands<byte[], byte[]> bytes,
      AdoptStore store,
      SpillwayConfig config,
      SpillwayMetrics meters,
      FlushListener listener,
      InstantSource clock) {
    this.connection = connection;
    this.fence = new ReplicationFence(connection, config.redisTimeout(), config);
    this.redis = redis;
    this.config = config;
    this.meters = meters;
    this.keys = new AdoptKeys(layout, config.redisCluster());
    FlushListener l = listener == null ? FlushListener.NONE : listener;
    byte[] ownPrefix = layout.prefix().getBytes(StandardCharsets.UTF_8);
    this.claimer =
        new AdoptClaimer(
            keys, ownPrefix, connection, redis, bytesConnection, bytes, config, meters, l, clock);
    this.applier =
        new AdoptApplier(
            keys, connection, redis, bytesConnection, bytes, store, config, meters, l, fence);
    connection.setAutoFlushCommands(false);
  }

  /** The shared counters ({@link RunTally}), and the batches claimed and not yet applied. */
  static final class Run extends RunTally {
    final List<String> pending = new ArrayList<>();
    int pendingCells;
    final LeftAlone.Tally leftAlone = new LeftAlone.Tally();
  }

  /** One run of a mapping: recover, then claim everything matching, apply, ack. */
  public synchronized FlushReport run(AdoptMapping m) {
    long start = System.nanoTime();
    Run run = new Run();
    fence.newRun();
    try (AdoptPipeline pipeline = new AdoptPipeline(m, run, applier, config)) {
      List<String> leftovers = leftovers(m);
      if (!leftovers.isEmpty()) {
        run.pending.addAll(leftovers);
        applier.applyPending(m, run);
      }
      claimer.scanAndClaim(m, run, pipeline::offer);
      pipeline.handOver();
      pipeline.finishAll();
    } catch (RuntimeException e) {
      run.errors.add(Errors.rootMessage(e));
      log.warn("event=adopt_error mapping={} error=\"{}\"", m.name(), Errors.rootMessage(e));
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    LeftAlone leftAlone = run.leftAlone.result();
    meters.adoptKeysLeftAlone(
        m.name(), leftAlone.notMatchingRegex(), leftAlone.notText(), leftAlone.wrongType());
    FlushReport r = run.report(0, took, Duration.ZERO, leftAlone);
    if (!r.ok()) {
      log.warn("event=adopt_incomplete mapping={} {}", m.name(), r);
    } else if (r.batchesApplied() > 0) {
      log.debug("event=adopt mapping={} {}", m.name(), r);
    }
    return r;
  }

  /** Batch ids left in the mapping's batches set(s) by earlier runs. */
  private List<String> leftovers(AdoptMapping m) {
    List<String> sets =
        keys.batchesSets(redis, m.name(), connection::flushCommands, config.redisTimeout());
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

  /** A reply; the caller has flushed the pipeline (the wait flushes again for redirects). */
  private <T> T await(CompletableFuture<T> f) {
    return PipelinedReplies.reply(connection, f, config.replyWaitMillis());
  }
}
