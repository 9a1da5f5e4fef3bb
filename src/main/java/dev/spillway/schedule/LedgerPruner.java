package dev.spillway.schedule;

import dev.spillway.config.Durations;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes {@code flush_ledger} rows older than the retention, in chunks of {@value #CHUNK}.
 *
 * <p>The ledger is what makes a batch count once: a batch still pending in Redis whose ledger row
 * was pruned would be applied a second time. So pruning first reads the oldest pending batch
 * ({@link PendingBatches}) and <b>refuses</b> to run while that batch is older than the retention
 * less {@link #CLOCK_SKEW_MARGIN} (batch ids carry the flusher's clock, {@code applied_at} is
 * PostgreSQL's), or while Redis cannot be read: it logs why and what to do, and tries again at the
 * next run. A batch claimed after the check is younger than any row the DELETE can reach.
 */
public final class LedgerPruner {
  private static final Logger log = LoggerFactory.getLogger(LedgerPruner.class);
  static final int CHUNK = 5000;

  /** Tolerated disagreement between the flushers' clocks and PostgreSQL's. */
  public static final Duration CLOCK_SKEW_MARGIN = Duration.ofMinutes(5);

  /** What one run did. */
  public enum Outcome {
    PRUNED,
    SKIPPED,
    FAILED
  }

  /**
   * @param deleted ledger rows deleted
   * @param reason why it skipped or failed; empty when it pruned
   */
  public record Result(Outcome outcome, long deleted, String reason) {}

  private final DataSource dataSource;
  private final String table;
  private final Duration retention;
  private final Supplier<PendingBatches.Summary> pending;
  private final InstantSource clock;
  private final Counter rows;
  private final Counter pruned;
  private final Counter skipped;
  private final Counter failed;

  /**
   * @param pending reads what is pending in Redis; may throw when Redis is unreachable
   */
  public LedgerPruner(
      DataSource dataSource,
      String schema,
      Duration retention,
      Supplier<PendingBatches.Summary> pending,
      InstantSource clock,
      MeterRegistry registry) {
    this.dataSource = dataSource;
    this.table = '"' + schema + "\".flush_ledger";
    this.retention = retention;
    this.pending = pending;
    this.clock = clock;
    this.rows =
        Counter.builder("spillway.ledger.pruned.rows")
            .description("flush_ledger rows deleted after the retention")
            .register(registry);
    this.pruned = runs(registry, "pruned");
    this.skipped = runs(registry, "skipped");
    this.failed = runs(registry, "failed");
  }

  private static Counter runs(MeterRegistry registry, String outcome) {
    return Counter.builder("spillway.ledger.prune.runs")
        .tag("outcome", outcome)
        .description("Ledger pruning runs; skipped = refused because a pending batch is too old")
        .register(registry);
  }

  public Result prune() {
    Instant now = clock.instant();
    Instant cutoff = now.minus(retention);
    PendingBatches.Summary p;
    try {
      p = pending.get();
    } catch (RuntimeException e) {
      skipped.increment();
      String reason = "cannot read pending batches from Redis: " + e.getMessage();
      log.warn(
          "event=ledger_prune_skipped reason=\"{}\" action=\"retried at the next run; a ledger"
              + " row is never deleted without knowing what is still pending\"",
          reason);
      return new Result(Outcome.SKIPPED, 0, reason);
    }
    if (p.oldestClaim().isPresent()
        && !p.oldestClaim().get().isAfter(cutoff.plus(CLOCK_SKEW_MARGIN))) {
      skipped.increment();
      String age = Durations.format(p.oldestAge(now).withNanos(0));
      String reason =
          "a batch pending in Redis is "
              + age
              + " old, not younger than worker.ledger.retention "
              + Durations.format(retention)
              + " less "
              + Durations.format(CLOCK_SKEW_MARGIN);
      log.warn(
          "event=ledger_prune_skipped reason=\"{}\" pending_batches={} fix=\"let the flusher"
              + " apply it (is PostgreSQL reachable? run spillway doctor), or raise"
              + " worker.ledger.retention above its age\"",
          reason,
          p.batches());
      return new Result(Outcome.SKIPPED, 0, reason);
    }
    long deleted = 0;
    String sql =
        "DELETE FROM "
            + table
            + " WHERE batch_id IN (SELECT batch_id FROM "
            + table
            + " WHERE applied_at < ? LIMIT "
            + CHUNK
            + ")";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      c.setAutoCommit(true); // one short transaction per chunk
      ps.setObject(1, OffsetDateTime.ofInstant(cutoff, ZoneOffset.UTC));
      int n;
      do {
        n = ps.executeUpdate();
        deleted += n;
        rows.increment(n);
      } while (n == CHUNK);
    } catch (SQLException e) {
      failed.increment();
      log.warn("event=ledger_prune_failed deleted={} error=\"{}\"", deleted, e.getMessage());
      return new Result(Outcome.FAILED, deleted, e.getMessage());
    }
    pruned.increment();
    if (deleted > 0) {
      log.info(
          "event=ledger_pruned rows={} older_than={} pending_batches={}",
          deleted,
          cutoff,
          p.batches());
    }
    return new Result(Outcome.PRUNED, deleted, "");
  }
}
