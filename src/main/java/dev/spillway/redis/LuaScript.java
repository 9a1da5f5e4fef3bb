package dev.spillway.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;

/**
 * A Lua script run by its SHA-1, falling back to its text for the one call that finds it missing.
 * Every script declares all its keys, and all keys of one call share a hash tag, so scripts run
 * unchanged on Redis Cluster. Immutable: one instance may be shared by every runtime in a JVM.
 *
 * <p>A call sends {@code EVALSHA}; when Redis replies {@code NOSCRIPT} (Redis restarted, {@code
 * SCRIPT FLUSH}, a replica promoted by a failover, a slot migrated to a node that never ran the
 * script) the same call is sent again as {@code EVAL} with the text, which caches the script on
 * whichever node the call reaches. The fallback is per call, so no state is kept between calls: an
 * earlier version kept a "send the text until" deadline inside shared script objects, which made
 * one runtime's failover the business of every other runtime in the process.
 *
 * <p>Order within a pipeline is kept: the fallbacks are written from the reply callbacks, in the
 * order the replies arrive on the connection, and all commands of a pipeline were written before
 * the first reply came back. On a connection with auto-flush off, the fallback waits in the
 * connection's buffer until the next flush; {@link PipelinedReplies#await} flushes while it waits.
 *
 * <p>Why not {@code SCRIPT LOAD}: on a cluster it must reach every node, and Lettuce sends it to
 * every node of the topology, including a dead master that is still listed, so it would fail for as
 * long as the dead node is listed; an {@code EVAL} goes only where its keys live.
 */
public final class LuaScript {
  private final String name;
  private final String text;
  private final String sha;

  public LuaScript(String name, String text) {
    this.name = name;
    this.text = text;
    this.sha = sha1(text);
  }

  public String name() {
    return name;
  }

  public String text() {
    return text;
  }

  /** Runs the script: {@code EVALSHA}, then {@code EVAL} for this call if Redis lacks it. */
  @SafeVarargs
  public final <K, V, T> CompletableFuture<T> evalsha(
      RedisClusterAsyncCommands<K, V> cmd, ScriptOutputType type, K[] keys, V... args) {
    return cmd.<T>evalsha(sha, type, keys, args)
        .toCompletableFuture()
        .exceptionallyCompose(
            e ->
                isNoScript(e)
                    ? cmd.<T>eval(text, type, keys, args).toCompletableFuture()
                    : CompletableFuture.failedFuture(e));
  }

  /** True when {@code t} or any of its causes is Redis's NOSCRIPT reply. */
  public static boolean isNoScript(Throwable t) {
    for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause()) {
      if (t instanceof RedisNoScriptException
          || (t.getMessage() != null && t.getMessage().contains("NOSCRIPT"))) {
        return true;
      }
    }
    return false;
  }

  private static String sha1(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required by the Java platform", e);
    }
  }
}
