package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.flush.FlushListener;
import dev.spillway.layout.KeyLayout;
import dev.spillway.testing.OnRedisCluster;
import dev.spillway.testing.RedisClusterProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.SharedRedisCluster;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * {@code spillway doctor} as a child process against the suite's shared Redis Cluster (3 masters, 3
 * replicas): one {@code redis.cluster} line for the cluster as a whole, then version, eviction
 * policy and persistence lines for every one of the six nodes, each naming its node, then the
 * stripe encoding and pending-batches lines read through the cluster connection: batches left
 * claimed on all 64 stripes (so on every master) are all counted.
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
@OnRedisCluster
class DoctorOnClusterTest {
  static final Duration TIMEOUT = WorkerProcess.START_TIMEOUT;

  @Test
  void doctor_onCluster_checksTheClusterAndEveryNode(TestEnv env) {
    assertThat(env.redisCluster()).isTrue();
    RedisClusterProcess cluster = SharedRedisCluster.get();
    // Migrate the schema; leave batches claimed but never applied (a flush that stops right
    // after its claim, as a crash would), spread over every master, and a few cells in the live
    // stripes, so that the stripe and pending-batch lines have something to find on each node.
    KeyLayout layout = new KeyLayout(env.keyPrefix(), 64);
    Set<Integer> stripes = new TreeSet<>();
    Map<Integer, Integer> live = new HashMap<>();
    FlushListener crashAfterClaim =
        new FlushListener() {
          @Override
          public void afterClaim(List<String> pendingBatchIds) {
            throw new IllegalStateException("test: stop after the claim");
          }
        };
    try (Spillway app = Spillways.builder(env).flushListener(crashAfterClaim).build()) {
      Counters c = app.counters();
      for (int i = 0; i < 1_000; i++) {
        c.increment("doctor", Integer.toString(i));
        stripes.add(layout.stripeOf("doctor", Integer.toString(i)));
      }
      c.flush();
      assertThat(app.flushOnce().ok())
          .as("the listener stopped the flush after its claim")
          .isFalse();
      for (int i = 0; i < 10; i++) {
        c.increment("doctor-live", Integer.toString(i));
        live.merge(layout.stripeOf("doctor-live", Integer.toString(i)), 1, Integer::sum);
      }
      c.flush();
    }
    assertThat(stripes).hasSize(64);
    List<Integer> masters = cluster.masterPorts();
    List<Integer> replicas = cluster.replicaPorts();
    assertThat(masters).as("the shared cluster is healthy before doctor runs").hasSize(3);
    assertThat(replicas).hasSize(3);

    Map<String, String> vars = WorkerProcess.env(env);
    vars.put("SPILLWAY_STRIPES", "64");
    WorkerProcess.Result r = WorkerProcess.run(TIMEOUT, vars, "doctor");
    System.out.println("DoctorOnClusterTest output:\n" + r.output());
    List<String> lines = checkLines(r.output());

    assertThat(line(lines, "redis.cluster", r.output()))
        .startsWith("OK")
        .contains("3 master(s), 3 replica(s)")
        .contains("all 16384 slots served");
    assertThat(lines).as(r.output()).noneMatch(l -> l.contains("redis.cluster.replicas"));

    for (int port : cluster.ports()) {
      String node = "127.0.0.1:" + port;
      String role = masters.contains(port) ? "(master)" : "(replica)";
      assertThat(line(lines, "redis@" + node, r.output()))
          .as("version line of node %s", node)
          .startsWith("OK")
          .contains("answers at " + node + " " + role);
      assertThat(line(lines, "redis.maxmemory-policy@" + node, r.output()))
          .startsWith("OK")
          .contains("noeviction");
      // The test cluster runs without persistence (save "", appendonly no): a WARN per node.
      assertThat(line(lines, "redis.persistence@" + node, r.output()))
          .startsWith("WARN")
          .contains("no persistence");
    }
    assertThat(lines.stream().filter(l -> l.matches("^\\S+\\s+redis@.*")).count())
        .as("one version line per node, no more: %s", r.output())
        .isEqualTo(6);

    assertThat(line(lines, "redis.encoding", r.output()))
        .startsWith("OK")
        // Every live hash also holds its claim id (#claim), one field more than its cells.
        .contains("holds " + (Collections.max(live.values()) + 1) + " field(s)")
        .contains("over 64 stripes");
    assertThat(line(lines, "pending-batches", r.output()))
        .startsWith("OK")
        .contains(stripes.size() + " batch(es) pending in Redis, oldest ");
    assertThat(line(lines, "postgres.migrations", r.output())).startsWith("OK");
    assertThat(lines).as(r.output()).noneMatch(l -> l.startsWith("FAIL"));
    assertThat(r.output()).contains("0 FAIL");
    assertThat(r.exitCode()).as(r.output()).isZero();
  }

  /**
   * On a cluster of its own (killing nodes of the shared one would disturb other classes): a dead
   * replica and a master replaced by its replica are named (the cluster marks both failed, and
   * neither answers, so without these lines nothing would name them), and so are the masters left
   * without a live replica; once a master without a replica dies too, the cluster line fails, the
   * dead master is named as holding unserved slots, the nodes still up are checked one by one, and
   * doctor exits 1.
   */
  @Test
  void doctor_degradedCluster_namesFailedNodesAndOrphanMasters(TestEnv base) {
    try (RedisClusterProcess cluster = RedisClusterProcess.start(Duration.ofMillis(1_000))) {
      TestEnv env = base.onRedis(cluster.seedUri(), true);
      try (Spillway ignored = Spillways.builder(env).build()) {
        // migrates the schema, so the PostgreSQL lines stay OK
      }
      // Master A loses its replica; master B dies and its replica B' takes over.
      List<Integer> masters = cluster.masterPorts();
      int a = masters.get(0);
      int b = masters.get(1);
      int replicaOfA = replicaOf(a);
      int promoted = replicaOf(b);
      cluster.kill(replicaOfA);
      cluster.kill(b);
      cluster.awaitFailover(b, Duration.ofSeconds(30));
      awaitFlag(cluster, replicaOfA, "fail");
      awaitFlag(cluster, b, "fail");

      Map<String, String> vars = WorkerProcess.env(env);
      vars.put("SPILLWAY_STRIPES", "64");
      WorkerProcess.Result r = WorkerProcess.run(TIMEOUT, vars, "doctor");
      System.out.println("DoctorOnClusterTest degraded output:\n" + r.output());
      List<String> lines = checkLines(r.output());
      assertThat(line(lines, "redis.cluster", r.output()))
          .startsWith("OK")
          .contains("3 master(s), 1 replica(s)");
      assertThat(line(lines, "redis@127.0.0.1:" + replicaOfA, r.output()))
          .startsWith("WARN")
          .contains("replica 127.0.0.1:" + replicaOfA + " of 127.0.0.1:" + a + " is marked failed");
      assertThat(line(lines, "redis@127.0.0.1:" + b, r.output()))
          .startsWith("WARN")
          .contains("formerly a master")
          .contains("a replica serves its former slots");
      assertThat(line(lines, "redis.cluster.replicas", r.output()))
          .startsWith("WARN")
          .contains("2 master(s) without a live replica")
          .contains("127.0.0.1:" + a)
          .contains("127.0.0.1:" + promoted);
      for (int port : cluster.ports()) {
        if (port != replicaOfA && port != b) {
          assertThat(line(lines, "redis@127.0.0.1:" + port, r.output())).startsWith("OK");
        }
      }
      assertThat(line(lines, "pending-batches", r.output())).startsWith("OK");
      assertThat(r.exitCode()).as("WARN alone does not fail").isZero();

      // Now A, which has no replica left, dies: its slots are not served.
      cluster.kill(a);
      awaitFlag(cluster, a, "fail");
      WorkerProcess.Result down = WorkerProcess.run(TIMEOUT, vars, "doctor");
      System.out.println("DoctorOnClusterTest cluster-down output:\n" + down.output());
      List<String> downLines = checkLines(down.output());
      assertThat(line(downLines, "redis.cluster", down.output()))
          .startsWith("FAIL")
          .contains("is fail");
      assertThat(line(downLines, "redis@127.0.0.1:" + a, down.output()))
          .startsWith("FAIL")
          .contains("master 127.0.0.1:" + a + " is marked failed")
          .contains("not served");
      for (int port : cluster.ports()) {
        if (port != replicaOfA && port != b && port != a) {
          assertThat(line(downLines, "redis@127.0.0.1:" + port, down.output())).startsWith("OK");
        }
      }
      assertThat(downLines)
          .as("no stripe or pending line without every slot")
          .noneMatch(l -> l.contains("pending-batches") || l.contains("redis.encoding"));
      assertThat(down.exitCode()).isEqualTo(1);
    }
  }

  /** The port of a replica of the master on {@code masterPort}, from CLUSTER NODES. */
  private static int replicaOf(int masterPort) {
    String nodes = clusterNodes(masterPort);
    String masterId = null;
    for (String l : nodes.split("\n")) {
      if (l.contains(" 127.0.0.1:" + masterPort + "@")) {
        masterId = l.split(" ")[0];
      }
    }
    for (String l : nodes.split("\n")) {
      String[] f = l.split(" ");
      if (f.length > 3 && f[3].equals(masterId)) {
        return Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1, f[1].indexOf('@')));
      }
    }
    throw new AssertionError("no replica of " + masterPort + " in\n" + nodes);
  }

  /**
   * Waits until every running node's CLUSTER NODES gives {@code port} the flag {@code flag} (so the
   * doctor, whichever node it asks, sees it).
   */
  private static void awaitFlag(RedisClusterProcess cluster, int port, String flag) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      boolean all = true;
      for (int other : cluster.ports()) {
        if (other == port || !cluster.isRunning(other)) {
          continue;
        }
        last = clusterNodes(other);
        boolean flagged = false;
        for (String l : last.split("\n")) {
          String[] f = l.split(" ");
          if (f.length > 2
              && f[1].startsWith("127.0.0.1:" + port + "@")
              && Arrays.asList(f[2].split(",")).contains(flag)) {
            flagged = true;
          }
        }
        all &= flagged;
      }
      if (all) {
        return;
      }
      WorkerProcess.sleep(100);
    }
    throw new AssertionError("node " + port + " not marked " + flag + " in time:\n" + last);
  }

  private static String clusterNodes(int port) {
    RedisClient client =
        RedisClient.create(
            RedisURI.builder()
                .withHost("127.0.0.1")
                .withPort(port)
                .withTimeout(Duration.ofSeconds(2))
                .build());
    try (var c = client.connect()) {
      return c.sync().clusterNodes();
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
    }
  }

  /** The one report line whose check column is exactly {@code check}. */
  private static String line(List<String> lines, String check, String output) {
    List<String> found =
        lines.stream()
            .filter(l -> l.split("\\s+", 3).length > 1 && l.split("\\s+", 3)[1].equals(check))
            .toList();
    assertThat(found).as("exactly one %s line in:\n%s", check, output).hasSize(1);
    return found.get(0);
  }

  private static List<String> checkLines(String output) {
    return output.lines().filter(l -> l.matches("^(OK|WARN|FAIL) .*")).toList();
  }
}
