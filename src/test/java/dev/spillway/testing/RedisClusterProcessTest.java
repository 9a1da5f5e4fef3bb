package dev.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.embedded.LocalServices;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Proves the cluster harness on a private cluster, since it kills and reshards nodes. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisClusterProcessTest {

  private static final Logger LOG = LoggerFactory.getLogger(RedisClusterProcessTest.class);

  private static RedisClusterProcess cluster;

  @BeforeAll
  static void startCluster() {
    long started = System.nanoTime();
    cluster = RedisClusterProcess.start();
    LOG.info("start: {} ms", millisSince(started));
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  @Order(1)
  void start_formsThreeMastersWithOneReplicaEach() {
    List<Integer> ports = cluster.ports();
    assertThat(ports).hasSize(6).doesNotHaveDuplicates();
    assertThat(cluster.seedUri())
        .isEqualTo(
            "redis://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d"
                .formatted(ports.get(0), ports.get(1), ports.get(2)));
    assertThat(cluster.masterPorts()).containsExactlyElementsOf(ports.subList(0, 3));
    assertThat(cluster.replicaPorts()).containsExactlyElementsOf(ports.subList(3, 6));
    for (int port : ports) {
      try (TestRedis node = node(port)) {
        assertThat(node.sync().clusterInfo())
            .contains("cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:6");
      }
    }
    for (int i = 0; i < 3; i++) {
      try (TestRedis replica = node(ports.get(3 + i))) {
        assertThat(replica.sync().info("replication"))
            .contains("role:slave", "master_port:" + ports.get(i), "master_link_status:up");
      }
    }
    assertThat(cluster.masterPortForSlot(0)).isEqualTo(ports.get(0));
    assertThat(cluster.masterPortForSlot(16383)).isEqualTo(ports.get(2));
  }

  @Test
  @Order(2)
  void parseSeeds_acceptsOneSchemeOrOneEach() {
    assertThat(TestRedis.parseSeeds("redis://h1:1,h2:2, h3:3"))
        .extracting(RedisURI::getHost, RedisURI::getPort)
        .map(tuple -> tuple.toList())
        .containsExactly(List.of("h1", 1), List.of("h2", 2), List.of("h3", 3));
    assertThat(TestRedis.parseSeeds("redis://h1:1,redis://h2:2"))
        .extracting(RedisURI::getPort)
        .containsExactly(1, 2);
    assertThat(TestRedis.parseSeeds("redis://:secret@h1:1,h2:2"))
        .allSatisfy(
            uri ->
                assertThat(uri.getCredentialsProvider().resolveCredentials().block().getPassword())
                    .containsExactly("secret".toCharArray()))
        .extracting(RedisURI::getHost)
        .containsExactly("h1", "h2");
  }

  @Test
  @Order(3)
  void clusterClient_writesToEveryMaster_andTestRedisFindsAndDeletesTheKeys() {
    try (TestRedis redis = TestRedis.connect(cluster.seedUri(), true)) {
      Set<Integer> masters = new HashSet<>();
      for (int i = 0; i < 300; i++) {
        String key = "harness:write:" + i;
        redis.sync().set(key, Integer.toString(i));
        masters.add(cluster.masterPortForKey(key));
      }
      assertThat(masters).containsExactlyInAnyOrderElementsOf(cluster.ports().subList(0, 3));
      assertThat(redis.sync().get("harness:write:299")).isEqualTo("299");
      assertThat(redis.keys("harness:write:*")).hasSize(300);

      assertThat(redis.deleteMatching("harness:write:*")).isEqualTo(300);
      assertThat(redis.keys("harness:write:*")).isEmpty();
    }
  }

  @Test
  @Order(4)
  void killMaster_replicaTakesOverWithTheData_andRestartRejoinsAsItsReplica() {
    String key = "harness:failover";
    int oldMaster = cluster.masterPortForKey(key);
    try (TestRedis master = node(oldMaster)) {
      master.sync().set(key, "kept");
      assertThat(master.sync().waitForReplication(1, 5000)).isEqualTo(1);
    }

    long killed = System.nanoTime();
    cluster.kill(oldMaster);
    cluster.awaitFailover(oldMaster, Duration.ofSeconds(20));
    LOG.info("kill + failover: {} ms", millisSince(killed));

    int newMaster = cluster.masterPortForKey(key);
    assertThat(newMaster).isNotEqualTo(oldMaster).isIn(cluster.ports().subList(3, 6));
    assertThat(cluster.isRunning(oldMaster)).isFalse();
    try (TestRedis promoted = node(newMaster)) {
      assertThat(promoted.sync().get(key)).isEqualTo("kept");
    }
    try (TestRedis redis = TestRedis.connect(cluster.seedUri(), true)) {
      assertThat(redis.sync().get(key)).isEqualTo("kept");
    }

    long restarted = System.nanoTime();
    cluster.restart(oldMaster);
    LOG.info("restart + resync: {} ms", millisSince(restarted));

    assertThat(cluster.replicaPorts()).contains(oldMaster);
    try (TestRedis rejoined = node(oldMaster)) {
      assertThat(rejoined.sync().info("replication"))
          .contains("role:slave", "master_port:" + newMaster, "master_link_status:up");
      rejoined.sync().readOnly();
      assertThat(rejoined.sync().get(key)).isEqualTo("kept");
    }
  }

  @Test
  @Order(5)
  void migrateSlots_movesSlotsAndKeys_whileClientsKeepWorking() throws Exception {
    List<Integer> masters = cluster.masterPorts();
    int from = masters.get(0);
    int to = masters.get(1);
    List<Integer> slots = cluster.slots(from).subList(0, 5);
    List<String> keys = new ArrayList<>();
    for (int slot : slots) {
      String tag = tagFor(slot);
      for (int i = 0; i < 40; i++) {
        keys.add("{" + tag + "}:harness:mig:" + i);
      }
    }
    try (TestRedis redis = TestRedis.connect(cluster.seedUri(), true)) {
      RedisClusterCommands<String, String> sync = redis.sync();
      keys.forEach(key -> sync.set(key, key));

      long started = System.nanoTime();
      CompletableFuture<List<Integer>> moving =
          cluster.migrateSlotsAsync(from, to, 5, Duration.ofMillis(50));
      int rounds = 0;
      while (!moving.isDone()) { // reads follow ASK, writes land wherever the key is now
        for (String key : keys) {
          assertThat(sync.get(key)).isEqualTo(key);
        }
        sync.incr("{" + tagFor(slots.get(0)) + "}:harness:mig:counter");
        rounds++;
      }
      assertThat(moving.get(30, TimeUnit.SECONDS)).isEqualTo(slots);
      LOG.info(
          "migrate 5 slots / 200 keys: {} ms, {} read rounds meanwhile",
          millisSince(started),
          rounds);

      assertThat(rounds).isPositive();
      for (int slot : slots) {
        assertThat(cluster.masterPortForSlot(slot)).isEqualTo(to);
      }
      assertThat(cluster.slots(from)).doesNotContainAnyElementsOf(slots);
      for (String key : keys) {
        assertThat(sync.get(key)).isEqualTo(key);
      }
      assertThat(sync.get("{" + tagFor(slots.get(0)) + "}:harness:mig:counter"))
          .isEqualTo(Integer.toString(rounds));
      try (TestRedis target = node(to);
          TestRedis source = node(from)) {
        for (int slot : slots) {
          assertThat(source.sync().clusterCountKeysInSlot(slot)).isZero();
          assertThat(target.sync().clusterCountKeysInSlot(slot))
              .isEqualTo(slot == slots.get(0) ? 41 : 40); // the counter lives in the first one
        }
      }
    }
    cluster.awaitHealthy(Duration.ofSeconds(10));
  }

  @Test
  @Order(6)
  void close_stopsEveryNodeProcess() {
    List<ProcessHandle> started = cluster.processes();
    assertThat(started).hasSize(7); // six nodes and the restarted one
    assertThat(started.stream().filter(ProcessHandle::isAlive)).hasSize(6);

    cluster.close();

    assertThat(started).noneMatch(ProcessHandle::isAlive);
    assertThat(ProcessHandle.current().children())
        .noneMatch(child -> started.stream().anyMatch(p -> p.pid() == child.pid()));
    for (int port : cluster.ports()) {
      assertThat(LocalServices.redisAnswers("redis://127.0.0.1:" + port, Duration.ofMillis(200)))
          .as("something answers on %d", port)
          .isFalse();
    }
  }

  private static TestRedis node(int port) {
    return TestRedis.connect("redis://127.0.0.1:" + port, false);
  }

  /** A hash tag whose keys all fall in {@code slot}. */
  private static String tagFor(int slot) {
    for (int i = 0; ; i++) {
      if (SlotHash.getSlot("t" + i) == slot) {
        return "t" + i;
      }
    }
  }

  private static long millisSince(long nanos) {
    return (System.nanoTime() - nanos) / 1_000_000;
  }
}
