package dev.spillway.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A test-owned Redis Sentinel deployment: a master, one replica and {@code n} sentinels (quorum 1,
 * {@code down-after-milliseconds 1000}, {@code failover-timeout 5000}), each a {@code redis-server}
 * child on a spare loopback port with its files in a temporary folder. {@link #close()} stops them
 * all and deletes the folders.
 */
public final class SentinelSet implements AutoCloseable {
  public static final String MASTER_NAME = "m";
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(20);

  private final List<RedisServerProcess> servers = new ArrayList<>();
  private final List<Sentinel> sentinels = new ArrayList<>();

  private int replicaCount;

  private SentinelSet() {}

  /** The ports of every data server that is not the current master. */
  public List<Integer> replicaPorts() {
    int m = masterPort();
    return servers.stream()
        .filter(s -> s.port() != m && s.isRunning())
        .map(RedisServerProcess::port)
        .toList();
  }

  /** Starts the master, one replica (linked) and {@code n} sentinels that see both. */
  public static SentinelSet start(int n) {
    return start(n, 1);
  }

  /**
   * Starts the master, {@code replicas} replicas (linked) and {@code n} sentinels that see them.
   */
  public static SentinelSet start(int n, int replicas) {
    SentinelSet set = new SentinelSet();
    set.replicaCount = replicas;
    try {
      RedisServerProcess master = RedisServerProcess.start();
      set.servers.add(master);
      for (int r = 0; r < replicas; r++) {
        set.servers.add(
            RedisServerProcess.start("--replicaof", "127.0.0.1", Integer.toString(master.port())));
      }
      for (int i = 0; i < n; i++) {
        set.sentinels.add(Sentinel.start(master.port()));
      }
      set.awaitReady();
      return set;
    } catch (RuntimeException e) {
      set.close();
      throw e;
    }
  }

  /** {@code redis-sentinel://127.0.0.1:p1[,127.0.0.1:p2...]#m}. */
  public String uri() {
    StringBuilder b = new StringBuilder("redis-sentinel://");
    for (int i = 0; i < sentinels.size(); i++) {
      b.append(i == 0 ? "" : ",").append("127.0.0.1:").append(sentinels.get(i).port);
    }
    return b.append("#").append(MASTER_NAME).toString();
  }

  public List<Integer> sentinelPorts() {
    return sentinels.stream().map(s -> s.port).toList();
  }

  /** The master's port as the first live sentinel reports it. */
  public int masterPort() {
    for (Sentinel s : sentinels) {
      if (s.process != null && s.process.isAlive()) {
        try {
          return s.masterPort();
        } catch (RuntimeException e) {
          // try the next one
        }
      }
    }
    throw new IllegalStateException("no sentinel answers");
  }

  /** The data server (master or replica) on {@code port}. */
  public RedisServerProcess server(int port) {
    return servers.stream().filter(s -> s.port() == port).findFirst().orElseThrow();
  }

  /** The replica of the current master (the other data server). */
  public RedisServerProcess replica() {
    int m = masterPort();
    return servers.stream().filter(s -> s.port() != m).findFirst().orElseThrow();
  }

  /** SIGKILLs the current master; returns its port. */
  public int killMaster() {
    int port = masterPort();
    server(port).kill();
    return port;
  }

  /** Stops sentinel {@code i} (SIGKILL). */
  public void killSentinel(int i) {
    sentinels.get(i).stop();
  }

  /** Waits until the sentinels name another master than {@code oldPort}. */
  public int awaitFailover(int oldPort, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        int now = masterPort();
        if (now != oldPort) {
          return now;
        }
      } catch (RuntimeException e) {
        // a sentinel busy failing over; ask again
      }
      sleep(100);
    }
    throw new IllegalStateException("no failover from :" + oldPort + " within " + timeout);
  }

  private void awaitReady() {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      boolean ready = true;
      for (Sentinel s : sentinels) {
        try {
          List<Map<String, String>> replicas = s.replicas();
          boolean up =
              replicas.stream()
                      .filter(
                          r ->
                              !r.getOrDefault("flags", "").contains("down")
                                  && "ok".equals(r.get("master-link-status")))
                      .count()
                  >= replicaCount;
          int known = Integer.parseInt(s.master().getOrDefault("num-other-sentinels", "0"));
          ready &= up && known >= sentinels.size() - 1;
          last = "replicas " + replicas + ", other sentinels " + known;
        } catch (RuntimeException e) {
          ready = false;
          last = e.toString();
        }
      }
      if (ready) {
        return;
      }
      sleep(100);
    }
    throw new IllegalStateException("sentinels not ready within " + READY_TIMEOUT + ": " + last);
  }

  @Override
  public void close() {
    for (Sentinel s : sentinels) {
      s.close();
    }
    for (RedisServerProcess s : servers) {
      s.close();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** One {@code redis-server sentinel.conf --sentinel}. */
  private static final class Sentinel implements AutoCloseable {
    final int port;
    final Path folder;
    Process process;

    private Sentinel(int port, Path folder) {
      this.port = port;
      this.folder = folder;
    }

    static Sentinel start(int masterPort) {
      Path folder;
      try {
        folder = Files.createTempDirectory("spillway-sentinel-test-");
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      IllegalStateException last = null;
      for (int attempt = 0; attempt < 3; attempt++) {
        Sentinel s = new Sentinel(freePort(), folder);
        try {
          s.launch(masterPort);
          return s;
        } catch (IllegalStateException e) {
          last = e;
        }
      }
      RedisProcesses.deleteFolder(folder);
      throw last;
    }

    private void launch(int masterPort) {
      Path conf = folder.resolve("sentinel.conf");
      Path log = folder.resolve("sentinel.log");
      try {
        Files.writeString(
            conf,
            String.join(
                "\n",
                "port " + port,
                "bind 127.0.0.1",
                "daemonize no",
                "dir " + folder,
                "sentinel monitor " + MASTER_NAME + " 127.0.0.1 " + masterPort + " 1",
                "sentinel down-after-milliseconds " + MASTER_NAME + " 1000",
                "sentinel failover-timeout " + MASTER_NAME + " 5000",
                "sentinel parallel-syncs " + MASTER_NAME + " 1",
                ""));
        process =
            new ProcessBuilder(RedisProcesses.executable(folder), conf.toString(), "--sentinel")
                .directory(folder.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
      } catch (IOException e) {
        throw new IllegalStateException("could not start a sentinel: " + e.getMessage(), e);
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (process.isAlive() && System.nanoTime() < deadline) {
        try {
          masterPort();
          return;
        } catch (RuntimeException e) {
          sleep(50);
        }
      }
      stop();
      String text;
      try {
        text = Files.readString(log);
      } catch (IOException e) {
        text = "(no log)";
      }
      throw new IllegalStateException(
          "sentinel on port " + port + " did not answer; its log:\n" + text);
    }

    private <T> T withSentinel(Function<StatefulRedisSentinelConnection<String, String>, T> f) {
      RedisClient client =
          RedisClient.create(
              RedisURI.builder()
                  .withHost("127.0.0.1")
                  .withPort(port)
                  .withTimeout(Duration.ofSeconds(2))
                  .build());
      try (StatefulRedisSentinelConnection<String, String> c = client.connectSentinel()) {
        return f.apply(c);
      } finally {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
      }
    }

    int masterPort() {
      SocketAddress a = withSentinel(c -> c.sync().getMasterAddrByName(MASTER_NAME));
      if (!(a instanceof InetSocketAddress i)) {
        throw new IllegalStateException("no master address from sentinel :" + port);
      }
      return i.getPort();
    }

    List<Map<String, String>> replicas() {
      return withSentinel(c -> c.sync().replicas(MASTER_NAME));
    }

    Map<String, String> master() {
      return withSentinel(c -> c.sync().master(MASTER_NAME));
    }

    void stop() {
      if (process != null) {
        process.destroyForcibly();
        RedisProcesses.reap(process);
        process = null;
      }
    }

    @Override
    public void close() {
      if (process != null) {
        RedisProcesses.shutdownNoSave(process, port);
        process = null;
      }
      RedisProcesses.deleteFolder(folder);
    }

    private static int freePort() {
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        return socket.getLocalPort();
      } catch (IOException e) {
        throw new IllegalStateException("Could not find a free loopback port", e);
      }
    }
  }
}
