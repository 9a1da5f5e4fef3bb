package dev.spillway.testing;

import dev.spillway.embedded.LocalServices;
import io.lettuce.core.MigrateArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One {@code redis-server} child process of a {@link RedisClusterProcess}: the process, its port,
 * its cluster node id, its log file in the cluster's temporary folder, and a connection to it.
 *
 * <p>Ports are drawn from 12000-21999 so that the cluster bus port (the client port + 10000) is
 * free too and stays below the ephemeral range, where outgoing connections could take it. A restart
 * reuses the port and {@code nodes-<port>.conf}, so the node rejoins as itself. The log file is
 * appended to across restarts.
 */
final class ClusterNodeProcess {

  private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration MIGRATE_TIMEOUT = Duration.ofSeconds(5);
  private static final int BUS_OFFSET = 10000;

  private final List<String> command;
  private final RedisClient client;
  private final Path folder;
  private final Path log;
  private final int port;
  private final List<ProcessHandle> started = new CopyOnWriteArrayList<>();
  private final Object connectionLock = new Object();
  private volatile String id;
  private volatile Process process; // written under this
  private StatefulRedisConnection<String, String> connection; // guarded by connectionLock

  private ClusterNodeProcess(
      String executable, Path folder, int port, Duration nodeTimeout, RedisClient client) {
    this.client = client;
    this.folder = folder;
    this.port = port;
    this.log = folder.resolve("redis-" + port + ".log");
    this.command =
        List.of(
            executable,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            folder.resolve("nodes-" + port + ".conf").toString(),
            "--cluster-node-timeout",
            Long.toString(nodeTimeout.toMillis()),
            // Replicas take over however long they were cut off; no reads from a failed cluster.
            "--cluster-replica-validity-factor",
            "0",
            "--cluster-allow-reads-when-down",
            "no",
            // Full syncs start at once instead of waiting 5 s for more replicas (Redis 7).
            "--repl-diskless-sync-delay",
            "0",
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--port",
            Integer.toString(port),
            "--daemonize",
            "no",
            "--dir",
            folder.toString());
  }

  static Path createFolder() {
    try {
      return Files.createTempDirectory("spillway-redis-cluster-");
    } catch (IOException e) {
      throw new IllegalStateException("Could not create a folder for the Redis Cluster", e);
    }
  }

  /** Starts a node on a port (and bus port) that is free and not in {@code taken}; adds it. */
  static ClusterNodeProcess launchOnFreePort(
      String executable,
      Path folder,
      Duration nodeTimeout,
      RedisClient client,
      Set<Integer> taken) {
    IllegalStateException last = null;
    // A free port can be taken before redis-server binds it; another port almost always works.
    for (int attempt = 0; attempt < 3; attempt++) {
      int port = freePort(taken);
      taken.add(port);
      var node = new ClusterNodeProcess(executable, folder, port, nodeTimeout, client);
      try {
        node.launch();
        return node;
      } catch (IllegalStateException e) {
        last = e;
      }
    }
    throw last;
  }

  int port() {
    return port;
  }

  /** The cluster node id; set once the node answers, and kept across restarts. */
  String id() {
    return id;
  }

  void id(String id) {
    this.id = id;
  }

  /** Every process this node has started, alive or not. */
  List<ProcessHandle> processes() {
    return List.copyOf(started);
  }

  synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  synchronized void launch() {
    try {
      process =
          new ProcessBuilder(command)
              .directory(folder.toFile())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
      started.add(process.toHandle());
    } catch (IOException e) {
      throw new IllegalStateException("Could not run " + command.get(0) + ": " + e.getMessage(), e);
    }
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (process.isAlive() && System.nanoTime() < deadline) {
      if (LocalServices.redisAnswers("redis://127.0.0.1:" + port, Duration.ofMillis(500))) {
        return;
      }
      sleep(Duration.ofMillis(20));
    }
    process.destroyForcibly();
    RedisProcesses.reap(process);
    process = null;
    throw new IllegalStateException(
        "redis-server did not answer PING on port " + port + " within 10 s; " + logTail(30));
  }

  /**
   * Commands for this node over one cached connection; the client does not reconnect, so once the
   * node is gone they fail at once, and the next call connects anew.
   */
  RedisCommands<String, String> redis() {
    synchronized (connectionLock) {
      if (connection == null || !connection.isOpen()) {
        connection =
            client.connect(
                RedisURI.Builder.redis("127.0.0.1", port).withTimeout(COMMAND_TIMEOUT).build());
      }
      return connection.sync();
    }
  }

  void dropConnection() {
    synchronized (connectionLock) {
      if (connection != null) {
        connection.closeAsync();
        connection = null;
      }
    }
  }

  /** Asks for {@code SHUTDOWN NOSAVE}, then terminates and finally kills; returns once reaped. */
  synchronized void stop() {
    dropConnection();
    if (process == null) {
      return;
    }
    RedisProcesses.shutdownNoSave(process, port);
    process = null;
  }

  /** SIGKILL, like a crash. */
  synchronized void kill() {
    dropConnection();
    if (process != null) {
      process.destroyForcibly();
      RedisProcesses.reap(process);
      process = null;
    }
  }

  /** For the shutdown hook: SIGTERM, a short wait, then SIGKILL; takes no lock. */
  void terminate() {
    Process current = process;
    if (current != null && current.isAlive()) {
      current.destroy();
      try {
        if (!current.waitFor(2, TimeUnit.SECONDS)) {
          current.destroyForcibly();
        }
      } catch (InterruptedException e) {
        current.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The last {@code lines} lines of the node's log, headed by its port. */
  String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log);
      return "--- redis-"
          + port
          + ".log ---\n"
          + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "--- no log at " + log + " ---";
    }
  }

  private static int freePort(Set<Integer> taken) {
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = ThreadLocalRandom.current().nextInt(12000, 22000);
      if (!taken.contains(port) && bindable(port) && bindable(port + BUS_OFFSET)) {
        return port;
      }
    }
    throw new IllegalStateException("Could not find a free loopback port pair in 12000-31999");
  }

  private static boolean bindable(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(false);
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Opens {@code slot}, which this node owns, for a move to {@code target} (SETSLOT IMPORTING
   * there, MIGRATING here) and moves its keys with GETKEYSINSLOT and MIGRATE ... KEYS, {@code
   * batch} keys at a time, sleeping {@code pause} after each batch. The slot is left open: the
   * caller assigns it (SETSLOT NODE). Returns the keys moved.
   */
  List<String> moveSlotKeys(ClusterNodeProcess target, int slot, int batch, Duration pause) {
    target.redis().clusterSetSlotImporting(slot, id);
    redis().clusterSetSlotMigrating(slot, target.id());
    List<String> moved = new ArrayList<>();
    for (List<String> keys = redis().clusterGetKeysInSlot(slot, batch);
        !keys.isEmpty();
        keys = redis().clusterGetKeysInSlot(slot, batch)) {
      redis()
          .migrate(
              "127.0.0.1",
              target.port(),
              0,
              MIGRATE_TIMEOUT.toMillis(),
              MigrateArgs.Builder.keys(keys));
      moved.addAll(keys);
      if (!pause.isZero()) {
        sleep(pause);
      }
    }
    return moved;
  }

  static void sleep(Duration duration) {
    try {
      Thread.sleep(duration);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for the Redis Cluster", e);
    }
  }
}
