package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.PendingState;
import dev.spillway.testing.PendingState.Cell;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The invariant of DESIGN.md under process death: a flusher JVM is halted ({@code Runtime.halt}, as
 * abrupt as SIGKILL: no finally, no shutdown hook, sockets dropped) at each step boundary of a
 * flush, and a fresh flusher must then bring PostgreSQL to the exact totals, applying every batch
 * exactly once.
 *
 * <p>Each case first checks that the child really died where it was told to (exit code 77) and that
 * the state it left is the state that boundary implies (ledger rows, pending batches in Redis,
 * totals), so a case cannot pass by the crash never happening. Cases run one after another in the
 * class's schema; each uses its own counters and key prefix and compares ledger snapshots taken
 * before and after, so they do not see each other.
 */
@ExtendWith(ServicesExtension.class)
class CrashRecoveryTest {
  private static final int STRIPES = 64;
  private static final List<String> BOUNDARIES =
      List.of("after-claim", "before-commit", "after-commit", "after-ack", "mid-run");
  private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(40);

  /** What a crash left behind, captured before recovery. */
  private record Crash(
      String boundary, Set<String> pending, Set<String> ledgerAdded, Set<String> ledgerBefore) {}

  private final TestEnv env;
  private RedisClient redisClient;
  private StatefulRedisConnection<String, String> redisConnection;
  private RedisCommands<String, String> redis;

  CrashRecoveryTest(TestEnv env) {
    this.env = env;
  }

  @BeforeAll
  static void migrate(TestEnv env) {
    // The schema is migrated once, here, so that the children can skip Flyway.
    try (Spillway sw = spillway(env, env.keyPrefix())) {
      assertThat(sw.flushOnce().ok()).isTrue();
    }
  }

  @BeforeEach
  void connect() {
    redisClient = RedisClient.create(env.redisUri());
    redisConnection = redisClient.connect();
    redis = redisConnection.sync();
  }

  @AfterEach
  void disconnect() {
    redisConnection.close();
    redisClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"after-claim", "before-commit", "after-commit", "after-ack", "mid-run"})
  void crashAtBoundary_freshFlusherRecoversExactly(String boundary) {
    String tag = boundary.replace("-", "_");
    String prefix = env.keyPrefix() + BOUNDARIES.indexOf(boundary) + ":";
    List<String> counters = List.of(tag + "_views", tag + "_bytes", tag + ".votes");
    long seed = System.nanoTime();
    SplittableRandom random = new SplittableRandom(seed);
    Map<Cell, Long> expected = new HashMap<>();

    try (Spillway writer = spillway(prefix)) {
      // Round 1: 3 counters x 2,000 keys, 1-3 increments each, varied (also negative) deltas.
      write(writer, counters, 0, 2_000, random, expected);
      Crash first = crash(prefix, boundary);
      recover(prefix, first, counters, expected, seed);

      // Round 2: half the keys again plus new ones, then a crash at the next boundary.
      String next = BOUNDARIES.get((BOUNDARIES.indexOf(boundary) + 1) % BOUNDARIES.size());
      write(writer, counters, 1_000, 3_000, random, expected);
      Crash second = crash(prefix, next);
      recover(prefix, second, counters, expected, seed);
    }
  }

  @Test
  void twoConsecutiveCrashes_afterClaimThenBeforeCommit_recoverExactly() {
    String prefix = env.keyPrefix() + "twice:";
    List<String> counters = List.of("twice_views", "twice_bytes", "twice.votes");
    long seed = System.nanoTime();
    SplittableRandom random = new SplittableRandom(seed);
    Map<Cell, Long> expected = new HashMap<>();

    try (Spillway writer = spillway(prefix)) {
      write(writer, counters, 0, 2_000, random, expected);
      Crash first = crash(prefix, "after-claim");

      // New increments between the crashes: the second child claims fresh batches and finds the
      // first child's leftovers pending beside them.
      write(writer, counters, 1_500, 2_500, random, expected);
      Crash second = crash(prefix, "before-commit");
      assertThat(second.pending()).as("seed %d", seed).containsAll(first.pending());
      assertThat(second.pending().size()).isGreaterThan(first.pending().size());
      assertThat(second.ledgerBefore()).isEqualTo(first.ledgerBefore());

      recover(prefix, second, counters, expected, seed);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Runs the child flusher until it halts at {@code boundary} and checks what that boundary must
   * leave behind.
   */
  private Crash crash(String prefix, String boundary) {
    Set<String> ledgerBefore = ledgerIds();
    Set<String> pendingBefore = pendingBatchIds(prefix);
    BigDecimal totalsBefore = totalsSum();

    JvmProcess.Result child =
        JvmProcess.run(
            CrashingFlusherMain.class,
            CHILD_TIMEOUT,
            env.redisUri(),
            env.jdbcUrl(),
            env.jdbcUser(),
            env.jdbcPassword() == null ? "" : env.jdbcPassword(),
            env.schema(),
            prefix,
            Integer.toString(STRIPES),
            boundary);
    assertThat(child.timedOut()).as("child timed out; output:\n%s", child.output()).isFalse();
    assertThat(child.exitCode())
        .as("the child must halt at %s; output:\n%s", boundary, child.output())
        .isEqualTo(CrashingFlusherMain.HALTED);

    Set<String> pending = pendingBatchIds(prefix);
    Set<String> added = new TreeSet<>(ledgerIds());
    added.removeAll(ledgerBefore);
    BigDecimal totalsDelta = totalsSum().subtract(totalsBefore);

    // What the child committed is exactly what its ledger rows say it committed.
    assertThat(totalsDelta)
        .as("change of totals vs. delta_sum of new ledger rows")
        .isEqualByComparingTo(ledgerDeltaSum(added));
    assertThat(liveKeys(prefix)).as("the child claimed every live hash").isEmpty();

    switch (boundary) {
      case "after-claim", "before-commit" -> {
        assertThat(added).as("nothing committed at %s", boundary).isEmpty();
        assertThat(pending).isNotEmpty().containsAll(pendingBefore);
      }
      case "after-commit" -> {
        // Committed but not acknowledged: every batch is in the ledger AND still in Redis.
        assertThat(pending).isNotEmpty();
        assertThat(added).isEqualTo(pending);
      }
      case "after-ack" -> {
        assertThat(added).isNotEmpty();
        assertThat(pending).isEmpty();
        assertThat(batchKeys(prefix)).isEmpty();
      }
      case "mid-run" -> {
        // Two transactions committed, the third died before COMMIT, nothing acknowledged yet.
        assertThat(added).isNotEmpty();
        assertThat(pending).containsAll(added);
        assertThat(pending.size()).isGreaterThan(added.size());
      }
      default -> throw new IllegalArgumentException(boundary);
    }
    assertThat(batchKeys(prefix)).hasSameSizeAs(pending);
    return new Crash(boundary, pending, added, ledgerBefore);
  }

  /** A fresh runtime finishes what the crash left; then everything is exact and clean. */
  private void recover(
      String prefix, Crash crash, List<String> counters, Map<Cell, Long> expected, long seed) {
    Set<String> alreadyApplied = new HashSet<>(crash.pending());
    alreadyApplied.retainAll(crash.ledgerAdded());
    try (Spillway fresh = spillway(prefix)) {
      FlushReport first = fresh.flushOnce();
      assertThat(first.ok()).as("%s", first).isTrue();
      assertThat(first.batchesClaimed()).as("no new live data: %s", first).isZero();
      assertThat(first.batchesDuplicate()).as("%s", first).isEqualTo(alreadyApplied.size());
      assertThat(first.batchesApplied())
          .as("%s", first)
          .isEqualTo(crash.pending().size() - alreadyApplied.size());

      FlushReport second = fresh.flushOnce();
      assertThat(second.ok()).as("%s", second).isTrue();
      assertThat(second.batchesClaimed() + second.batchesApplied() + second.batchesDuplicate())
          .as("second run has nothing to do: %s", second)
          .isZero();
    }

    String why = "crash at " + crash.boundary() + ", seed " + seed;
    assertThat(PendingState.totals(env, counters))
        .as(why)
        .isEqualTo(PendingState.nonZero(expected));
    assertThat(prefixKeys(prefix))
        .as("no batch or batches key left: %s", why)
        .noneMatch(k -> k.endsWith(":batches") || k.contains(":batch:") || k.endsWith(":live"));

    Set<String> added = new TreeSet<>(ledgerIds());
    added.removeAll(crash.ledgerBefore());
    Set<String> expectedIds = new TreeSet<>(crash.pending());
    expectedIds.addAll(crash.ledgerAdded());
    assertThat(added).as("every batch in the ledger, each once: %s", why).isEqualTo(expectedIds);
    assertThat(env.queryLong("SELECT count(*) - count(DISTINCT batch_id) FROM flush_ledger"))
        .isZero();
    assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
  }

  private static void write(
      Spillway sw,
      List<String> counters,
      int fromKey,
      int toKey,
      SplittableRandom random,
      Map<Cell, Long> expected) {
    for (String counter : counters) {
      for (int k = fromKey; k < toKey; k++) {
        String key = "k" + k;
        int n = 1 + random.nextInt(3);
        for (int i = 0; i < n; i++) {
          long delta =
              switch (random.nextInt(4)) {
                case 0 -> 1;
                case 1 -> -random.nextLong(1, 1_000);
                case 2 -> random.nextLong(1, 1_000_000);
                default -> random.nextLong(1, 1_000_000_000_000L);
              };
          sw.counters().increment(counter, key, delta);
          expected.merge(new Cell(counter, key), delta, Long::sum);
        }
      }
    }
    sw.counters().flush();
  }

  private Spillway spillway(String prefix) {
    return spillway(env, prefix);
  }

  private static Spillway spillway(TestEnv env, String prefix) {
    return Spillway.builder()
        .redisUri(env.redisUri())
        .jdbcUrl(env.jdbcUrl())
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(prefix)
        .stripes(STRIPES)
        .build();
  }

  // --- PostgreSQL --------------------------------------------------------------------------------

  private BigDecimal totalsSum() {
    BigDecimal[] sum = {BigDecimal.ZERO};
    sql(
        "SELECT coalesce(sum(total::numeric), 0) FROM " + table("counter_totals"),
        rs -> sum[0] = rs.getBigDecimal(1));
    return sum[0];
  }

  private BigDecimal ledgerDeltaSum(Set<String> ids) {
    BigDecimal[] sum = {BigDecimal.ZERO};
    sql(
        "SELECT coalesce(sum(delta_sum), 0) FROM "
            + table("flush_ledger")
            + " WHERE batch_id = ANY(?)",
        rs -> sum[0] = rs.getBigDecimal(1),
        (Object) ids.toArray(String[]::new));
    return sum[0];
  }

  private Set<String> ledgerIds() {
    Set<String> ids = new TreeSet<>();
    sql("SELECT batch_id FROM " + table("flush_ledger"), rs -> ids.add(rs.getString(1)));
    return ids;
  }

  private String table(String name) {
    return '"' + env.schema() + "\"." + name;
  }

  private interface Row {
    void accept(ResultSet rs) throws SQLException;
  }

  private void sql(String sql, Row row, Object... args) {
    try (Connection c = env.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        if (args[i] instanceof String[] a) {
          ps.setArray(i + 1, c.createArrayOf("text", a));
        } else {
          ps.setObject(i + 1, args[i]);
        }
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          row.accept(rs);
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  // --- Redis -------------------------------------------------------------------------------------

  private List<String> prefixKeys(String prefix) {
    List<String> keys = new ArrayList<>();
    ScanArgs match = ScanArgs.Builder.matches(prefix + "*").limit(1000);
    KeyScanCursor<String> cursor = redis.scan(match);
    while (true) {
      keys.addAll(cursor.getKeys());
      if (cursor.isFinished()) {
        return keys;
      }
      cursor = redis.scan(cursor, match);
    }
  }

  private Set<String> pendingBatchIds(String prefix) {
    Set<String> ids = new TreeSet<>();
    for (String key : prefixKeys(prefix)) {
      if (key.endsWith(":batches")) {
        ids.addAll(redis.smembers(key));
      }
    }
    return ids;
  }

  private List<String> batchKeys(String prefix) {
    return prefixKeys(prefix).stream().filter(k -> k.contains(":batch:")).toList();
  }

  private List<String> liveKeys(String prefix) {
    return prefixKeys(prefix).stream().filter(k -> k.endsWith(":live")).toList();
  }
}
