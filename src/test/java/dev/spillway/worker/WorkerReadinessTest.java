package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Readiness follows Redis: a worker on a test-owned redis-server answers 200, then 503 naming Redis
 * while that server is stopped, then 200 again once it is back; it never exits on its own.
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class WorkerReadinessTest {

  @Test
  void healthReady_redisStoppedThenBack_turns503NamingRedisThen200(TestEnv env) throws Exception {
    try (RedisServerProcess redis = RedisServerProcess.start()) {
      Map<String, String> vars = WorkerProcess.env(env);
      vars.put("SPILLWAY_REDIS_URI", redis.uri());
      var config =
          WorkerProcess.config(
              """
              keys: {stripes: 32}
              flush: {interval: 500ms}
              worker:
                http: {port: 0}
                shutdown-timeout: 10s
              """);
      try (WorkerProcess worker =
          WorkerProcess.start(vars, "worker", "--config", config.toString())) {
        worker.awaitPort(WorkerProcess.START_TIMEOUT);
        worker.awaitStatus("/health/ready", 200, WorkerProcess.START_TIMEOUT);

        redis.stop();
        long down = System.nanoTime();
        WorkerProcess.HttpResult r =
            worker.awaitStatus("/health/ready", 503, Duration.ofSeconds(15));
        long downMs = (System.nanoTime() - down) / 1_000_000;

        JsonNode json = new ObjectMapper().readTree(r.body());
        assertThat(json.path("status").asText()).isEqualTo("DOWN");
        assertThat(json.path("failing").toString()).isEqualTo("[\"redis\"]");
        assertThat(json.path("checks").path("redis").path("error").asText()).isNotBlank();
        assertThat(json.path("checks").path("postgres").path("status").asText()).isEqualTo("UP");
        assertThat(worker.get("/health/live").status()).isEqualTo(200);

        WorkerProcess.sleep(3_000); // flush runs fail meanwhile; the worker must stay up
        assertThat(worker.isAlive()).isTrue();

        redis.restart();
        long up = System.nanoTime();
        worker.awaitStatus("/health/ready", 200, Duration.ofSeconds(20));
        long upMs = (System.nanoTime() - up) / 1_000_000;
        assertThat(worker.isAlive()).isTrue();
        System.out.printf(
            "WorkerReadinessTest: 503 %d ms after Redis stopped, 200 %d ms after it restarted%n",
            downMs, upMs);

        worker.terminate();
        assertThat(worker.awaitExit(Duration.ofSeconds(20))).isZero();
      }
    }
  }
}
