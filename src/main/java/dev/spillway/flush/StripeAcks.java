package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.layout.KeyLayout;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The acknowledgements of a {@link Flusher} run, on the flushing thread (the only one that touches
 * the pipelined Redis connection): committed batches leave Redis ({@link FlushScripts#ACK}), and
 * batches read back empty leave their set only if their key is gone.
 */
final class StripeAcks {
  // Logged under Flusher's name, as before these steps had their own class.
  private static final Logger log = LoggerFactory.getLogger(Flusher.class);

  private final KeyLayout layout;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final SpillwayConfig config;
  private final FlushListener listener;

  StripeAcks(
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      SpillwayConfig config,
      FlushListener listener) {
    this.layout = layout;
    this.connection = connection;
    this.redis = redis;
    this.config = config;
    this.listener = listener;
  }

  void ack(Set<Pending> done) {
    if (done.isEmpty()) {
      return;
    }
    List<String[]> keys = new ArrayList<>(done.size());
    List<String> ids = new ArrayList<>(done.size());
    for (Pending p : done) {
      keys.add(new String[] {layout.batch(p.stripe(), p.batchId()), layout.batches(p.stripe())});
      ids.add(p.batchId());
    }
    for (String failure : BatchAcks.send(connection, redis, keys, ids, config.replyWaitMillis())) {
      log.warn("event=ack_failed error=\"{}\" action=next_run_acks", failure);
    }
    listener.afterAck(done.stream().map(Pending::batchId).collect(Collectors.toSet()));
  }

  /**
   * Removes the ids of batches that read back empty from their sets, each only if its key is gone
   * (a concurrent flusher applied and acknowledged it). A key that still exists answered empty for
   * the wrong reason: it stays pending, untouched, and the next run reads it again. Returns the
   * batches whose ids left their set.
   */
  Set<Pending> ackUnread(Set<Pending> stale, RunTally run) {
    if (stale.isEmpty()) {
      return Set.of();
    }
    List<String[]> keys = new ArrayList<>(stale.size());
    List<String> ids = new ArrayList<>(stale.size());
    for (Pending p : stale) {
      keys.add(new String[] {layout.batch(p.stripe(), p.batchId()), layout.batches(p.stripe())});
      ids.add(p.batchId());
    }
    List<String> kept = new ArrayList<>();
    List<String> failures =
        BatchAcks.sendUnread(connection, redis, keys, ids, config.replyWaitMillis(), kept);
    for (String failure : failures) {
      log.warn("event=ack_failed error=\"{}\" action=next_run_acks", failure);
    }
    if (!kept.isEmpty()) {
      String message =
          kept.size()
              + " batch(es) read back empty although their keys hold data (first: "
              + kept.get(0)
              + "); left pending, untouched, for the next run";
      run.errors.add(message);
      log.error(
          "event=batch_read_empty batches={} first={} action=left_pending",
          kept.size(),
          kept.get(0));
    }
    Set<Pending> gone = new LinkedHashSet<>();
    if (failures.isEmpty()) {
      for (Pending p : stale) {
        if (!kept.contains(p.batchId())) {
          gone.add(p);
        }
      }
    }
    return gone;
  }
}
