package dev.spillway.flush;

import dev.spillway.redis.LuaScript;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.runtime.Errors;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Step 4 of a flush, for counter and adopt batches alike: {@link FlushScripts#ACK} per batch,
 * pipelined. A node that has not cached the script (a fresh or restarted Redis, a promoted replica)
 * gets the script's text for that call from {@code LuaScript}; should NOSCRIPT surface all the
 * same, those acks go again once. Any other failure is harmless: the batch stays pending, and the
 * next run finds it in the ledger and acks it.
 */
final class BatchAcks {
  private BatchAcks() {}

  /**
   * Acks batch {@code ids.get(i)} with keys {@code keys.get(i)} (batch hash, batches set).
   *
   * @return one message per ack that still failed
   */
  static List<String> send(
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      List<String[]> keys,
      List<String> ids,
      long timeoutMillis) {
    return send(connection, redis, keys, ids, timeoutMillis, "applied", new ArrayList<>());
  }

  /**
   * Removes from their batches sets the ids of batches that read back empty, each only if its key
   * is really gone ({@link FlushScripts#ACK}, mode {@code unread}); never deletes a batch key. The
   * ids whose key still exists (an empty reply for the wrong reason) are added to {@code kept}:
   * they stay pending and are read again by the next run.
   *
   * @return one message per ack that failed
   */
  static List<String> sendUnread(
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      List<String[]> keys,
      List<String> ids,
      long timeoutMillis,
      List<String> kept) {
    return send(connection, redis, keys, ids, timeoutMillis, "unread", kept);
  }

  private static List<String> send(
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      List<String[]> keys,
      List<String> ids,
      long timeoutMillis,
      String mode,
      List<String> kept) {
    List<Integer> todo = new ArrayList<>(ids.size());
    for (int i = 0; i < ids.size(); i++) {
      todo.add(i);
    }
    List<String> failures = new ArrayList<>();
    for (int attempt = 0; attempt < 2 && !todo.isEmpty(); attempt++) {
      List<CompletableFuture<Long>> futures = new ArrayList<>(todo.size());
      for (int i : todo) {
        futures.add(
            FlushScripts.ACK.evalsha(
                redis, ScriptOutputType.INTEGER, keys.get(i), ids.get(i), mode));
      }
      connection.flushCommands();
      List<Integer> missing = new ArrayList<>();
      failures.clear();
      for (int j = 0; j < futures.size(); j++) {
        try {
          Long r = PipelinedReplies.await(connection, futures.get(j), timeoutMillis);
          if (r == null || r < 0) {
            kept.add(ids.get(todo.get(j)));
          }
        } catch (ExecutionException | TimeoutException e) {
          if (LuaScript.isNoScript(e)) {
            missing.add(todo.get(j));
          }
          failures.add(Errors.rootMessage(e));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          failures.add("interrupted");
          return failures;
        }
      }
      todo = missing;
    }
    return failures;
  }
}
