package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ReportSettings;
import dev.spillway.store.Database;
import dev.spillway.testing.TestEnv;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/** Shared set-up of the report tests: configurations on a test schema, clocks, golden files. */
final class ReportFixtures {
  private ReportFixtures() {}

  /** A configuration on {@code env}'s schema and prefix, adjusted by {@code more}. */
  static SpillwayConfig config(TestEnv env, UnaryOperator<SpillwayConfig.Builder> more) {
    return more.apply(
            SpillwayConfig.builder()
                .redisUri(env.redisUri())
                .jdbcUrl(env.jdbcUrl())
                .jdbcUser(env.jdbcUser())
                .jdbcPassword(env.jdbcPassword())
                .schema(env.schema())
                .keyPrefix(env.keyPrefix())
                .stripes(64))
        .build();
  }

  /** Opens the pool and applies the migrations (no Redis needed). */
  static Database migrated(SpillwayConfig c) {
    Database db = Database.open(c);
    db.migrate();
    return db;
  }

  /** Flushes until nothing is pending in Redis. */
  static void drain(Spillway sw) {
    for (int i = 0; i < 50; i++) {
      var r = sw.flushOnce();
      if (r.ok()
          && r.batchesClaimed() == 0
          && r.batchesApplied() == 0
          && r.batchesDuplicate() == 0) {
        return;
      }
    }
    throw new AssertionError("flush did not settle");
  }

  static ReportSettings settings() {
    return ReportSettings.defaults();
  }

  /** A clock tests can move. */
  static final class TestClock implements InstantSource {
    private final AtomicReference<Instant> now;

    TestClock(String iso) {
      this.now = new AtomicReference<>(Instant.parse(iso));
    }

    void set(String iso) {
      now.set(Instant.parse(iso));
    }

    @Override
    public Instant instant() {
      return now.get();
    }
  }

  /**
   * Compares {@code actual} with {@code src/test/resources/report/<name>}; with {@code
   * -Dspillway.golden.update=true} writes it instead (review the diff before committing).
   */
  static void golden(String name, String actual) {
    Path file = Path.of("src/test/resources/report", name);
    try {
      if (Boolean.getBoolean("spillway.golden.update")) {
        Files.createDirectories(file.getParent());
        Files.writeString(file, actual, StandardCharsets.UTF_8);
        return;
      }
      assertThat(Files.exists(file))
          .as("golden file %s missing; run with -Dspillway.golden.update=true", file)
          .isTrue();
      assertThat(actual)
          .as("golden file %s", file)
          .isEqualTo(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
