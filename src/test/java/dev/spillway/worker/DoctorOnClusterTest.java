package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.counter.KeyLayout;
import dev.spillway.flush.FlushListener;
import dev.spillway.testing.OnRedisCluster;
import dev.spillway.testing.RedisClusterProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.SharedRedisCluster;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * {@code spillway doctor} as a child process against the suite's shared Redis Cluster (3 masters,
 * 3 replicas): one {@code redis.cluster} line for the cluster as a whole, then version, eviction
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
    Map<Integer, Integer> live = new java.util.HashMap<>();
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
      assertThat(app.flushOnce().ok()).as("the listener stopped the flush after its claim").isFalse();
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
        .contains("holds " + java.util.Collections.max(live.values()) + " field(s)")
        .contains("over 64 stripes");
    assertThat(line(lines, "pending-batches", r.output()))
        .startsWith("OK")
        .contains(stripes.size() + " batch(es) pending in Redis, oldest ");
    assertThat(line(lines, "postgres.migrations", r.output())).startsWith("OK");
    assertThat(lines).as(r.output()).noneMatch(l -> l.startsWith("FAIL"));
    assertThat(r.output()).contains("0 FAIL");
    assertThat(r.exitCode()).as(r.output()).isZero();
  }

  /** The one report line whose check column is exactly {@code check}. */
  private static String line(List<String> lines, String check, String output) {
    List<String> found =
        lines.stream().filter(l -> l.split("\\s+", 3).length > 1 && l.split("\\s+", 3)[1].equals(check)).toList();
    assertThat(found).as("exactly one %s line in:\n%s", check, output).hasSize(1);
    return found.get(0);
  }

  private static List<String> checkLines(String output) {
    return output.lines().filter(l -> l.matches("^(OK|WARN|FAIL) .*")).toList();
  }
}
