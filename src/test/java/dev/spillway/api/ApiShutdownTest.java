package dev.spillway.api;

import static dev.spillway.api.ApiWorker.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.flush.FlushReport;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.worker.WorkerProcess;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * SIGTERM while clients POST increments: the worker exits 0, and every increment it answered 202 is
 * in PostgreSQL after one more flush, no more and no fewer (an answered increment was buffered and
 * drained before the process ended; a refused or cut request added nothing).
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class ApiShutdownTest {

  @Test
  void sigterm_underPosts_exitsZero_everyAcceptedIncrementFlushedOnce(TestEnv env)
      throws Exception {
    LongAdder accepted = new LongAdder();
    LongAdder other = new LongAdder();
    AtomicBoolean stop = new AtomicBoolean();
    String log;
    try (ApiWorker worker = ApiWorker.start(env, "")) {
      List<Thread> clients = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int id = t;
        clients.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      int i = 0;
                      while (!stop.get()) {
                        HttpRequest.Builder b =
                            worker
                                .request(
                                    "/v1/counters/shut/k" + (id * 1000 + i++ % 50) + "/increments")
                                .header("Authorization", "Bearer " + TOKEN)
                                .POST(HttpRequest.BodyPublishers.noBody());
                        try {
                          HttpResponse<Void> r =
                              ApiWorker.HTTP.send(
                                  b.build(), HttpResponse.BodyHandlers.discarding());
                          (r.statusCode() == 202 ? accepted : other).increment();
                        } catch (Exception e) {
                          other.increment(); // refused or cut while stopping: nothing was answered
                          // 202
                          ApiWorker.sleep(5);
                        }
                      }
                    }));
      }
      ApiWorker.await(
          () -> accepted.sum() > 500, Duration.ofSeconds(60), "500 increments accepted");
      Integer code = worker.stop();
      stop.set(true);
      for (Thread c : clients) {
        c.join();
      }
      log = worker.process.output();
      assertThat(code).as("exit code; output:\n%s", log).isEqualTo(0);
      assertThat(log).contains("event=stopped");
      assertThat(log.lines().filter(l -> l.contains("level=ERROR")).toList()).isEmpty();
    }
    try (Spillway app = Spillways.builder(env).build()) {
      FlushReport last = app.flushOnce(); // whatever the worker left pending in Redis
      assertThat(last.ok()).as(last.toString()).isTrue();
    }
    assertThat(
            env.queryLong(
                "SELECT coalesce(sum(total), 0) FROM counter_totals WHERE counter = 'shut'"))
        .as("worker output:\n%s", log)
        .isEqualTo(accepted.sum());
    System.out.printf(
        "ApiShutdownTest: %,d accepted, %,d refused or cut%n", accepted.sum(), other.sum());
  }
}
