package dev.spillway.counter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.spillway.Durability;
import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ReplicationLinks;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 16, durable mode on one master with one replica (both test-owned): while the replica's link
 * is cut, {@code flush()} refuses (the master applied the drain, but WAIT cannot confirm it) and
 * the cells stay with the client; once the link is back, the same packets are re-sent, the master
 * answers them as duplicates, WAIT confirms, and the count is exact: nothing twice. Under {@code
 * async} the same cut does not stop {@code flush()}.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DurableModeTest {

  @Test
  void replicated_linkCut_flushRefusedCellsKept_linkBack_exactOnce(TestEnv env) {
    try (RedisServerProcess master = RedisServerProcess.start();
        RedisServerProcess replica =
            RedisServerProcess.start("--replicaof", "127.0.0.1", Integer.toString(master.port()))) {
      awaitLinked(master, 1);
      try (Spillway sw = runtime(env, master, Durability.REPLICATED)) {
        Counters c = sw.counters();
        c.increment("durable", "a", 100);
        c.flush();
        assertThat(c.pending("durable", "a")).isEqualTo(100);

        ReplicationLinks.cut(replica.port());
        c.increment("durable", "a", 50);
        assertThatThrownBy(c::flush)
            .isInstanceOf(SpillwayException.class)
            .hasMessageContaining("did not acknowledge");
        assertThat(c.pendingCells()).as("kept by the client while unconfirmed").isPositive();
        assertThat(c.pending("durable", "a"))
            .as("the master applied it all the same")
            .isEqualTo(150);

        ReplicationLinks.restore(replica.port());
        awaitLinked(master, 1);
        c.flush();
        assertThat(c.pendingCells()).isZero();
        assertThat(c.pending("durable", "a"))
            .as("re-sent, answered as a duplicate: once")
            .isEqualTo(150);
        try (TestRedis r = TestRedis.connect(replica.uri(), false)) {
          await()
              .atMost(Duration.ofSeconds(5))
              .until(() -> r.sync().info("replication").contains("master_link_status:up"));
        }
      }
    }
  }

  /**
   * A drain that finds its script gone (a restart, a failover, SCRIPT FLUSH) is applied by the EVAL
   * fallback after the WAIT queued behind it, so that WAIT does not vouch for it: the packet is
   * kept and re-sent (answered as a duplicate, confirmed by the next WAIT). Before this was caught,
   * the packet was taken as replicated on the strength of a WAIT that ran before it.
   */
  @Test
  void replicated_scriptGone_drainNotTakenAsReplicatedByAnEarlierWait(TestEnv env) {
    try (RedisServerProcess master = RedisServerProcess.start();
        RedisServerProcess replica =
            RedisServerProcess.start("--replicaof", "127.0.0.1", Integer.toString(master.port()))) {
      awaitLinked(master, 1);
      try (Spillway sw = runtime(env, master, Durability.REPLICATED)) {
        Counters c = sw.counters();
        c.increment("durable", "s", 3);
        c.flush();
        double failuresBefore = drainFailures(sw);
        try (TestRedis r = TestRedis.connect(master.uri(), false)) {
          r.sync().scriptFlush();
        }
        c.increment("durable", "s", 4);
        c.flush();
        assertThat(drainFailures(sw) - failuresBefore)
            .as("the packet applied by the fallback was kept unconfirmed and re-sent")
            .isGreaterThanOrEqualTo(1);
        assertThat(c.pendingCells()).isZero();
        assertThat(c.pending("durable", "s")).as("re-sent, counted once").isEqualTo(7);
      }
    }
  }

  private static double drainFailures(Spillway sw) {
    return sw.meterRegistry().get("spillway.client.drain.failures").counter().count();
  }

  @Test
  void async_linkCut_flushReturns(TestEnv env) {
    try (RedisServerProcess master = RedisServerProcess.start();
        RedisServerProcess replica =
            RedisServerProcess.start("--replicaof", "127.0.0.1", Integer.toString(master.port()))) {
      awaitLinked(master, 1);
      try (Spillway sw = runtime(env, master, Durability.ASYNC)) {
        ReplicationLinks.cut(replica.port());
        sw.counters().increment("durable", "b", 7);
        sw.counters().flush();
        assertThat(sw.counters().pendingCells()).isZero();
        assertThat(sw.counters().pending("durable", "b")).isEqualTo(7);
      }
    }
  }

  private static Spillway runtime(TestEnv env, RedisServerProcess master, Durability d) {
    return Spillway.builder()
        .config(
            Spillways.config(env)
                .redisUri(master.uri())
                // flush() waits up to redis.timeout; WAIT gets half of it (at most 1 s). 2 s left
                // a loaded machine one retry at best; 5 s keeps the cut case short enough.
                .redisTimeout(Duration.ofSeconds(5))
                .durability(d)
                .build())
        .build();
  }

  /** Waits until {@code replicas} replicas are linked and in sync (online), as WAIT needs. */
  private static void awaitLinked(RedisServerProcess master, int replicas) {
    try (TestRedis r = TestRedis.connect(master.uri(), false)) {
      await()
          .atMost(Duration.ofSeconds(20))
          // Connected is not enough: a replica still loading the master's snapshot is listed
          // (state=wait_bgsave or send_bulk) but cannot acknowledge a WAIT yet.
          .until(
              () -> {
                String info = r.sync().info("replication");
                return info.contains("connected_slaves:" + replicas)
                    && info.split("state=online", -1).length - 1 >= replicas;
              });
    }
  }
}
