package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.testing.SentinelSet;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import dev.spillway.worker.Doctor.Line;
import dev.spillway.worker.Doctor.Status;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 16: {@code spillway doctor} against a test-owned Sentinel set (a master, a replica, two
 * sentinels with quorum 1): each sentinel answers, the quorum is usable, the master has a live
 * replica, and {@code min-replicas-to-write} 0 is warned about (and OK once set); then a sentinel
 * killed fails its own line and, once the other sees it down, the quorum line (no majority).
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SentinelDoctorTest {

  @Test
  void sentinelChecks(TestEnv env) {
    try (Spillway ignored = Spillways.builder(env).build()) {
      // migrates the class's schema, so the PostgreSQL lines have tables to look at
    }
    try (SentinelSet set = SentinelSet.start(2, 1)) {
      SpillwayConfig config = Spillways.config(env).redisUri(set.uri()).build();
      List<Integer> ports = set.sentinelPorts();

      List<Line> lines = Doctor.run(config, Clock.systemUTC());
      for (int port : ports) {
        assertThat(line(lines, "redis.sentinel@127.0.0.1:" + port))
            .satisfies(l -> assertThat(l.status()).as(l.toString()).isEqualTo(Status.OK))
            .satisfies(
                l ->
                    assertThat(l.message())
                        .contains("master 'm' is at 127.0.0.1:" + set.masterPort()));
      }
      assertThat(line(lines, "redis.sentinel.quorum").status()).isEqualTo(Status.OK);
      assertThat(line(lines, "redis.sentinel.quorum").message()).contains("OK");
      Line replicas = line(lines, "redis.sentinel.replicas");
      assertThat(replicas.status()).as(replicas.toString()).isEqualTo(Status.OK);
      assertThat(replicas.message())
          .contains("1 live replica(s) [127.0.0.1:" + set.replicaPorts().get(0) + "]");
      Line minReplicas = line(lines, "redis.min-replicas-to-write");
      assertThat(minReplicas.status()).isEqualTo(Status.WARN);
      assertThat(minReplicas.fix()).contains("min-replicas-to-write 1");
      assertThat(line(lines, "redis").status())
          .as("the master, found through the sentinels")
          .isEqualTo(Status.OK);

      try (TestRedis master = TestRedis.connect("redis://127.0.0.1:" + set.masterPort(), false)) {
        master.sync().configSet("min-replicas-to-write", "1");
      }
      assertThat(
              line(Doctor.run(config, Clock.systemUTC()), "redis.min-replicas-to-write").status())
          .isEqualTo(Status.OK);

      set.killSentinel(1);
      await()
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () ->
                  line(Doctor.run(config, Clock.systemUTC()), "redis.sentinel.quorum").status()
                      == Status.FAIL);
      List<Line> after = Doctor.run(config, Clock.systemUTC());
      assertThat(line(after, "redis.sentinel@127.0.0.1:" + ports.get(1)).status())
          .isEqualTo(Status.FAIL);
      assertThat(line(after, "redis.sentinel@127.0.0.1:" + ports.get(1)).message())
          .contains("cannot reach sentinel");
      assertThat(line(after, "redis.sentinel@127.0.0.1:" + ports.get(0)).status())
          .isEqualTo(Status.OK);
      assertThat(line(after, "redis.sentinel.quorum").message())
          .contains("1 usable Sentinels")
          .contains("majority");
    }
  }

  private static Line line(List<Line> lines, String check) {
    return lines.stream()
        .filter(l -> l.check().equals(check))
        .findFirst()
        .orElseThrow(
            () ->
                new AssertionError(
                    "no line "
                        + check
                        + " in\n"
                        + String.join("\n", lines.stream().map(Line::toString).toList())));
  }
}
