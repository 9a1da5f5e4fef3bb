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
 * a hash tag, so scripts run unchanged on Redis Cluster. A {@code NOSCRIPT} reply (Redis restarted
 * or {@code SCRIPT FLUSH}) is reported through {@link #isNoScript}; callers then SCRIPT LOAD {@link #text()} and
 * retry, which keeps pipelines free of hidden follow-up commands.
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

  public <T> CompletableFuture<T> evalsha(
      RedisClusterAsyncCommands<String, String> cmd,
      ScriptOutputType type,
      String[] keys,
      String... args) {
    return cmd.<T>evalsha(sha, type, keys, args).toCompletableFuture();
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
