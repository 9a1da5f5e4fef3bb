package dev.spillway.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class CellBufferTest {
  @Test
  void drain_concurrentWithAdds_losesNothing() throws Exception {
    CellBuffer buffer = new CellBuffer();
    int threads = 4;
    int perThread = 400_000;
    int keys = 300; // few keys: many adds race with drains and with cell retirement
    AtomicBoolean done = new AtomicBoolean();
    Map<String, Long> drained = new HashMap<>();
    Thread drainer =
        new Thread(
            () -> {
              while (!done.get()) {
                for (CellBuffer.Delta d : buffer.drain()) {
                  drained.merge(d.field(), d.value(), Long::sum);
                }
              }
            });
    drainer.start();
    long[][] sent = new long[threads][keys];
    List<Thread> writers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      writers.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    SplittableRandom r = new SplittableRandom(id);
                    for (int i = 0; i < perThread; i++) {
                      int k = r.nextInt(keys);
                      long d = r.nextInt(-5, 100);
                      buffer.add("c||" + k, k % 8, d);
                      sent[id][k] += d;
                    }
                  }));
    }
    for (Thread w : writers) {
      w.join();
    }
    done.set(true);
    drainer.join();
    for (CellBuffer.Delta d : buffer.drain()) {
      drained.merge(d.field(), d.value(), Long::sum);
    }
    for (int k = 0; k < keys; k++) {
      long expected = 0;
      for (int t = 0; t < threads; t++) {
        expected += sent[t][k];
      }
      assertThat(drained.getOrDefault("c||" + k, 0L)).as("key %d", k).isEqualTo(expected);
    }
    assertThat(buffer.accepted()).isEqualTo((long) threads * perThread);
  }

  @Test
  void add_overflowingLocalSum_spillsInsteadOfWrapping() {
    CellBuffer buffer = new CellBuffer();
    buffer.add("c||k", 0, Long.MAX_VALUE);
    buffer.add("c||k", 0, 10);
    buffer.add("c||k", 0, Long.MIN_VALUE); // the sentinel value itself must never be stored
    List<CellBuffer.Delta> out = buffer.drain();
    BigInteger sum = BigInteger.ZERO;
    for (CellBuffer.Delta d : out) {
      sum = sum.add(BigInteger.valueOf(d.value()));
    }
    // The cell itself never holds the sentinel: it still accepts adds after all that.
    buffer.add("c||k", 0, 5);
    assertThat(buffer.drain()).containsExactly(new CellBuffer.Delta(0, "c||k", 5));
    assertThat(sum)
        .isEqualTo(
            BigInteger.valueOf(Long.MAX_VALUE)
                .add(BigInteger.TEN)
                .add(BigInteger.valueOf(Long.MIN_VALUE)));
  }

  @Test
  void drain_retiresIdleCells() {
    CellBuffer buffer = new CellBuffer();
    buffer.add("c||k", 0, 1);
    assertThat(buffer.drain()).hasSize(1);
    for (int i = 0; i < 3; i++) {
      assertThat(buffer.drain()).isEmpty();
    }
    assertThat(buffer.size()).isZero();
    buffer.add("c||k", 0, 2);
    assertThat(buffer.drain()).containsExactly(new CellBuffer.Delta(0, "c||k", 2));
  }
}
