package dev.spillway.testing;

import io.lettuce.core.KillArgs;
import io.lettuce.core.api.sync.RedisCommands;

/**
 * Cutting and restoring a replica's link to its master, for the failover tests' unreplicated
 * window: a wrong {@code masterauth} makes every reconnection fail its handshake, so the master
 * goes on acknowledging writes that the replica never receives, until {@link #restore}.
 */
public final class ReplicationLinks {
  private ReplicationLinks() {}

  /** Cuts the link of the replica on {@code replicaPort} and keeps it cut. */
  public static void cut(int replicaPort) {
    try (TestRedis r = TestRedis.connect(uri(replicaPort), false)) {
      r.sync().configSet("masterauth", "not-the-password");
      ((RedisCommands<String, String>) r.sync()).clientKill(KillArgs.Builder.typeMaster());
    }
  }

  /** Lets the replica on {@code replicaPort} reconnect to its master. */
  public static void restore(int replicaPort) {
    try (TestRedis r = TestRedis.connect(uri(replicaPort), false)) {
      r.sync().configSet("masterauth", "");
    }
  }

  private static String uri(int port) {
    return "redis://127.0.0.1:" + port;
  }
}
