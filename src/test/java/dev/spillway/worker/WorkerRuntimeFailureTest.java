package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.SpillwayConfig;
import dev.spillway.schedule.Schedule;
import dev.spillway.schedule.ScheduledTask;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A worker whose job thread throws an {@link Error} stops its runtime and says so where a
 * supervisor looks: {@code /health/live} and {@code /health/ready} answer 503 naming the Error, and
 * no task fires again. (In-process: the Error comes from an extra task.)
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class WorkerRuntimeFailureTest {

  @Test
  void jobThrowsError_healthDownAndSchedulerStops(TestEnv env) throws Exception {
    SpillwayConfig config = Spillways.config(env).build();
    AtomicInteger runs = new AtomicInteger();
    Worker worker =
        Worker.builder(config)
            .httpPort(0)
            .extraTasks(
                sw ->
                    List.of(
                        new ScheduledTask(
                            "boom",
                            Schedule.parse("test.schedule", "100ms"),
                            () -> {
                              runs.incrementAndGet();
                              throw new StackOverflowError("injected by the test");
                            })))
            .start();
    try {
      HttpClient http = HttpClient.newHttpClient();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> get(http, worker, "/health/live").statusCode() == 503);
      HttpResponse<String> live = get(http, worker, "/health/live");
      assertThat(live.body()).contains("\"status\":\"DOWN\"").contains("StackOverflowError");
      HttpResponse<String> ready = get(http, worker, "/health/ready");
      assertThat(ready.statusCode()).isEqualTo(503);
      assertThat(ready.body()).contains("\"runtime\"").contains("injected by the test");
      assertThat(worker.scheduler().isRunning()).as("no task fires again").isFalse();
      int seen = runs.get();
      Thread.sleep(500); // five more intervals: the task must not run again
      assertThat(runs.get()).isEqualTo(seen).isEqualTo(1);
    } finally {
      worker.stop();
    }
  }

  private static HttpResponse<String> get(HttpClient http, Worker worker, String path)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + worker.httpPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
