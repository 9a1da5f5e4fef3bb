package dev.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The meters tell the truth: values checked against what the test did. */
@ExtendWith(ServicesExtension.class)
class MetricsTest {
  @Test
  void meters_countIncrementsCellsBatchesRowsAndDeadLetters(TestEnv env) {
    MeterRegistry registry = new SimpleMeterRegistry();
    try (Spillway sw = Spillways.builder(env).stripes(4).meterRegistry(registry).build()) {
      var c = sw.counters();
      for (int i = 0; i < 100; i++) {
        c.increment("m", "k" + (i % 10));
      }
      c.flush();
      assertThat(registry.get("spillway.client.increments.accepted").functionCounter().count())
          .isEqualTo(100);
      // At least one per distinct cell; more when a background drain ran between the increments.
      assertThat(registry.get("spillway.client.cells.drained").counter().count())
          .isBetween(10.0, 100.0);
      assertThat(registry.get("spillway.client.drain.duration").timer().count()).isPositive();
      assertThat(registry.get("spillway.client.cells.pending").gauge().value()).isZero();

      var r = sw.flushOnce();
      int claimed = r.batchesClaimed();
      assertThat(claimed).isBetween(1, 4);
      assertThat(batches(registry, "claimed")).isEqualTo(claimed);
      assertThat(batches(registry, "applied")).isEqualTo(claimed);
      assertThat(batches(registry, "duplicate")).isZero();
      assertThat(batches(registry, "failed")).isZero();
      assertThat(registry.get("spillway.flush.rows.upserted").counter().count()).isEqualTo(10);
      assertThat(registry.get("spillway.flush.duration").timer().count()).isEqualTo(1);
      assertThat(registry.get("spillway.flush.oldest.batch.age").gauge().value()).isZero();

      c.increment("m", "k0", Long.MAX_VALUE);
      c.flush();
      sw.flushOnce();
      assertThat(registry.get("spillway.flush.dead.letters").counter().count()).isEqualTo(1);
    }
  }

  private static double batches(MeterRegistry registry, String outcome) {
    return registry.get("spillway.flush.batches").tag("outcome", outcome).counter().count();
  }
}
