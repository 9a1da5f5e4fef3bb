package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/** {@code spillway doctor} as a child process, against test-owned redis-servers. */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class DoctorTest {
  static final Duration TIMEOUT = WorkerProcess.START_TIMEOUT;

  @BeforeAll
  static void migrate(TestEnv env) {
    try (Spillway ignored = Spillways.builder(env).build()) {
      // build() migrates the class's schema
    }
  }

  @Test
  void doctor_healthySetup_everyLineOk(TestEnv env) {
    try (RedisServerProcess redis =
        RedisServerProcess.start(
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--maxmemory-policy",
            "noeviction")) {
      WorkerProcess.Result r = doctor(env, redis.uri());

      List<String> lines = checkLines(r.output());
      assertThat(lines)
          .as(r.output())
          .hasSizeGreaterThanOrEqualTo(9)
          .allMatch(l -> l.startsWith("OK "));
      assertThat(r.output()).contains("0 WARN, 0 FAIL");
      assertThat(r.exitCode()).isZero();
    }
  }

  @Test
  void doctor_evictingRedis_warnsNamingTheSettingAndTheFix(TestEnv env) {
    try (RedisServerProcess redis =
        RedisServerProcess.start("--appendonly", "yes", "--maxmemory-policy", "allkeys-lru")) {
      WorkerProcess.Result r = doctor(env, redis.uri());

      String line =
          checkLines(r.output()).stream()
              .filter(l -> l.contains("redis.maxmemory-policy"))
              .findFirst()
              .orElseThrow(() -> new AssertionError(r.output()));
      assertThat(line)
          .startsWith("WARN")
          .contains("maxmemory-policy is allkeys-lru")
          .contains("fix: set maxmemory-policy noeviction");
      assertThat(r.exitCode()).as("WARN alone does not fail").isZero();
    }
  }

  @Test
  void doctor_unreachableRedis_failsAndExitsNonZero(TestEnv env) {
    RedisServerProcess redis = RedisServerProcess.start();
    String uri = redis.uri();
    redis.close(); // nothing listens there any more

    WorkerProcess.Result r = doctor(env, uri);

    assertThat(checkLines(r.output()))
        .anyMatch(l -> l.startsWith("FAIL") && l.contains("cannot reach Redis"));
    assertThat(checkLines(r.output()))
        .anyMatch(l -> l.startsWith("OK") && l.contains("postgres.migrations"));
    assertThat(r.exitCode()).isEqualTo(1);
  }

  private static WorkerProcess.Result doctor(TestEnv env, String redisUri) {
    Map<String, String> vars = WorkerProcess.env(env);
    vars.put("SPILLWAY_REDIS_URI", redisUri);
    vars.put("SPILLWAY_STRIPES", "64");
    WorkerProcess.Result r = WorkerProcess.run(TIMEOUT, vars, "doctor");
    System.out.println("DoctorTest output:\n" + r.output());
    return r;
  }

  private static List<String> checkLines(String output) {
    return output.lines().filter(l -> l.matches("^(OK|WARN|FAIL) .*")).toList();
  }
}
