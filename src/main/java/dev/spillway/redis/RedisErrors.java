package dev.spillway.redis;

import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import java.io.IOException;

/** Classifies Redis failures for retries. */
public final class RedisErrors {
  private RedisErrors() {}

  /**
   * True when {@code t} (or a cause) is a failure that goes away by itself on a healthy cluster:
   * {@code TRYAGAIN} (a multi-key call while its slot migrates), {@code CLUSTERDOWN} and {@code
   * MASTERDOWN} (a failover in progress), {@code LOADING}, redirects Lettuce gave up following
   * ({@code MOVED}, {@code ASK}), and lost or refused connections.
   */
  public static boolean isTransient(Throwable t) {
    for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause()) {
      if (t instanceof RedisConnectionException
          || t instanceof RedisCommandTimeoutException
          || t instanceof IOException) {
        return true;
      }
      String m = t.getMessage();
      if (m != null
          && (m.startsWith("TRYAGAIN")
              || m.startsWith("CLUSTERDOWN")
              || m.startsWith("MASTERDOWN")
              || m.startsWith("LOADING")
              || m.startsWith("MOVED")
              || m.startsWith("ASK")
              || m.contains("Connection closed")
              || m.contains("Connection refused")
              || m.contains("Currently not connected"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * True when {@code t} (or a cause) is {@code TRYAGAIN}: a multi-key command or script whose slot
   * is being migrated found its keys split between the two masters (or missing on the importing
   * one). It succeeds once the slot's keys have moved.
   */
  public static boolean isTryAgain(Throwable t) {
    for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause()) {
      if (t.getMessage() != null && t.getMessage().startsWith("TRYAGAIN")) {
        return true;
      }
    }
    return false;
  }
}
