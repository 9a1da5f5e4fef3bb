package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.AdoptMapping;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.redis.ReplicationFence;
import dev.spillway.runtime.Errors;
import dev.spillway.store.AdoptBatch;
import dev.spillway.store.AdoptStore;
import dev.spillway.store.ApplyResult;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apply and ack steps of {@link AdoptFlusher}: reads the run's pending batches (those the
 * replicas confirmed), applies them in one transaction ({@link AdoptStore#apply}), then
 * acknowledges what is committed (DEL plus SREM) and drops the ids of batches read back empty whose
 * keys are gone. No Redis call happens inside the transaction.
 */
final class AdoptApplier {
  // Logged under AdoptFlusher's name, as before these steps had their own class.
  private static final Logger log = LoggerFactory.getLogger(AdoptFlusher.class);

  private final AdoptKeys keys;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final StatefulConnection<byte[], byte[]> bytesConnection;
  private final RedisClusterAsyncCommands<byte[], byte[]> bytes;
  private final AdoptStore store;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final FlushListener listener;
  private final ReplicationFence fence;

  AdoptApplier(
      AdoptKeys keys,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      StatefulConnection<byte[], byte[]> bytesConnection,
      RedisClusterAsyncCommands<byte[], byte[]> bytes,
      AdoptStore store,
      SpillwayConfig config,
      SpillwayMetrics meters,
      FlushListener listener,
      ReplicationFence fence) {
    this.keys = keys;
    this.connection = connection;
    this.redis = redis;
    this.bytesConnection = bytesConnection;
    this.bytes = bytes;
    this.store = store;
    this.config = config;
    this.meters = meters;
    this.listener = listener;
    this.fence = fence;
  }

  /** Reads, applies and acks every pending batch, in turn; false when PostgreSQL failed. */
  boolean applyPending(AdoptMapping m, AdoptFlusher.Run run) {
    Read r = read(m, run);
    if (r == null) {
      return true;
    }
    return ack(m, r, apply(m, r), run);
  }

  /** What one transaction applies: the batches read, and the ids of those read back empty. */
  record Read(List<AdoptBatch> batches, List<String> unread) {}

  /**
   * Reads the run's pending batches (those the replicas confirmed) and empties the run's pending
   * list; null when nothing was pending. On the run's thread (it uses the Redis connections).
   */
  Read read(AdoptMapping m, AdoptFlusher.Run run) {
    if (run.pending.isEmpty()) {
      return null;
    }
    long t0 = System.nanoTime();
    List<String> ids =
        fence.confirmed(run.pending, id -> keys.batches(m.name(), AdoptKeys.tagOf(id)), id -> id);
    if (ids.size() < run.pending.size()) {
      run.errors.add(
          (run.pending.size() - ids.size())
              + " adopt batch(es) left pending: their claims were"
              + " not confirmed by the master's replicas in time (Redis Cluster); the next run"
              + " retries");
    }
    run.pending.clear();
    run.pendingCells = 0;
    List<CompletableFuture<Map<byte[], byte[]>>> reads = new ArrayList<>();
    for (String id : ids) {
      reads.add(
          bytes
              .hgetall(keys.batch(m.name(), id).getBytes(StandardCharsets.UTF_8))
              .toCompletableFuture());
    }
    bytesConnection.flushCommands();
    List<AdoptBatch> batches = new ArrayList<>();
    List<String> unread = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      Map<byte[], byte[]> content = awaitBytes(reads.get(i));
      if (content.isEmpty()) {
        unread.add(ids.get(i)); // acknowledged meanwhile by a concurrent run, if its key is gone
      } else {
        batches.add(AdoptBatchReader.read(keys, m, ids.get(i), content));
      }
    }
    meters.phases().record("adopt_read", System.nanoTime() - t0);
    return new Read(batches, unread);
  }

  /** What one transaction did: its own tally (merged by {@link #ack}) and the batches committed. */
  record Applied(
      AdoptFlusher.Run tally, Set<String> done, boolean healthy, RuntimeException error) {}

  /**
   * Applies the batches read in one transaction ({@link AdoptStore#apply}). No Redis call: this
   * runs on an apply thread, beside the run's thread claiming more. Counts into a tally of its own.
   */
  Applied apply(AdoptMapping m, Read r) {
    AdoptFlusher.Run tally = new AdoptFlusher.Run();
    Set<String> done = new LinkedHashSet<>();
    if (r.batches().isEmpty()) {
      return new Applied(tally, done, true, null);
    }
    long t1 = System.nanoTime();
    boolean healthy = true;
    try {
      ApplyResult res = store.apply(m, r.batches(), listener::beforeCommit);
      tally.committed(res, meters);
      for (AdoptBatch b : r.batches()) {
        if (res.applied().contains(b.batchId())) {
          tally.cells += b.cells().size();
        }
        done.add(b.batchId());
      }
      if (res.deadLetters() > 0) {
        log.warn("event=dead_letters mapping={} count={}", m.name(), res.deadLetters());
      }
      listener.afterCommit(Set.copyOf(done));
    } catch (SpillwayException e) {
      healthy = false;
      tally.failed(r.batches().size(), e, meters);
      log.warn(
          "event=adopt_apply_failed mapping={} batches={} error=\"{}\""
              + " action=left_pending_in_redis",
          m.name(),
          r.batches().size(),
          Errors.rootMessage(e));
    } catch (RuntimeException e) {
      // Not PostgreSQL refusing: a listener, a bug. The tally still reaches the run; nothing of
      // these batches is acknowledged (a committed one is a duplicate for the next run).
      return new Applied(tally, Set.of(), false, e);
    }
    meters.phases().record("adopt_apply", System.nanoTime() - t1);
    return new Applied(tally, done, healthy, null);
  }

  /**
   * Acknowledges what {@code a} committed and drops the ids read back empty whose keys are gone, on
   * the run's thread; adds the apply's tally to the run. False when PostgreSQL failed.
   */
  boolean ack(AdoptMapping m, Read r, Applied a, AdoptFlusher.Run run) {
    run.add(a.tally());
    if (a.error() != null) {
      throw a.error();
    }
    long t2 = System.nanoTime();
    ack(m, a.done());
    ackUnread(m, r.unread(), run);
    meters.phases().record("adopt_ack", System.nanoTime() - t2);
    return a.healthy();
  }

  /** Drops the ids of batches read back empty, each only if its key is gone (never deletes). */
  private void ackUnread(AdoptMapping m, List<String> unread, AdoptFlusher.Run run) {
    if (unread.isEmpty()) {
      return;
    }
    List<String[]> batchKeys = new ArrayList<>(unread.size());
    for (String id : unread) {
      batchKeys.add(
          new String[] {keys.batch(m.name(), id), keys.batches(m.name(), AdoptKeys.tagOf(id))});
    }
    List<String> kept = new ArrayList<>();
    for (String failure :
        BatchAcks.sendUnread(
            connection, redis, batchKeys, unread, config.replyWaitMillis(), kept)) {
      log.warn("event=adopt_ack_failed mapping={} error=\"{}\"", m.name(), failure);
    }
    if (!kept.isEmpty()) {
      run.errors.add(
          kept.size()
              + " adopt batch(es) read back empty although their keys hold"
              + " data (first: "
              + kept.get(0)
              + "); left pending, untouched, for the next run");
      log.error(
          "event=batch_read_empty mapping={} batches={} first={} action=left_pending",
          m.name(),
          kept.size(),
          kept.get(0));
    }
  }

  private void ack(AdoptMapping m, Set<String> done) {
    if (done.isEmpty()) {
      return;
    }
    List<String[]> batchKeys = new ArrayList<>(done.size());
    List<String> ids = new ArrayList<>(done);
    for (String id : ids) {
      batchKeys.add(
          new String[] {keys.batch(m.name(), id), keys.batches(m.name(), AdoptKeys.tagOf(id))});
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
}
