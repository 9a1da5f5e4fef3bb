package dev.spillway.counter;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;

/**
 * A Lua script run by its SHA-1. Every script declares all its keys, and all keys of one call share
 * a hash tag, so scripts run unchanged on Redis Cluster. A {@code NOSCRIPT} reply (Redis restarted,
 * {@code SCRIPT FLUSH}, a replica promoted by a failover, a slot migrated to a node that never ran
 * the script) is reported through {@link #isNoScript}; callers then call {@link #reload()} and
 * retry. For the next {@value #TEXT_WINDOW_MS} ms every call sends the script's text ({@code EVAL}),
 * which caches it on whichever node the call reaches.
 *
 * <p>Why not {@code SCRIPT LOAD}: on a cluster it must reach every node, and Lettuce sends it to
 * every node of the topology, including a dead master that is still listed, so it would fail for
 * as long as the dead node is listed; an {@code EVAL} goes only where its keys live.
 */
public final class LuaScript {
  private final String name;
  private final String text;
  private final String sha;
  static final long TEXT_WINDOW_MS = 2_000;
  /** {@link System#nanoTime()} until which calls send the text; in the past at first. */
  private volatile long sendTextUntil = System.nanoTime() - 1;

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

  public <T> CompletableFuture<T> evalsha(
      RedisClusterAsyncCommands<String, String> cmd,
      ScriptOutputType type,
      String[] keys,
      String... args) {
    if (System.nanoTime() - sendTextUntil < 0) {
      return cmd.<T>eval(text, type, keys, args).toCompletableFuture();
    }
    return cmd.<T>evalsha(sha, type, keys, args).toCompletableFuture();
  }

  /** After a NOSCRIPT reply: send the text for a while (see the class comment). */
  public void reload() {
    sendTextUntil = System.nanoTime() + TEXT_WINDOW_MS * 1_000_000L;
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
