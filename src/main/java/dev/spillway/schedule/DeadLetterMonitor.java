package dev.spillway.schedule;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts dead letters waiting for a person ({@code decision IS NULL}), publishes the count as the
 * gauge {@code spillway.dead.letters.waiting}, and {@link #check() reports} them in the log.
 *
 * <p>{@link #refresh()} only updates the gauge: every worker calls it periodically, so each one's
 * gauge is current even though, in a cluster, the {@link #check()} task runs on one worker at a
 * time. The gauge is NaN until the first successful count.
 */
public final class DeadLetterMonitor {
  private static final Logger log = LoggerFactory.getLogger(DeadLetterMonitor.class);

  /** A count that does not change is repeated in the log this often, not at every check. */
  static final Duration REPEAT = Duration.ofMinutes(15);

  /** Dead letters waiting, and when the oldest of them was written. */
  public record Waiting(long count, Optional<Instant> oldest) {}

  private final DataSource dataSource;
  private final String sql;
  private final InstantSource clock;
  private volatile double gauge = Double.NaN;
  private long lastLoggedCount = 0;
  private Instant lastLoggedAt = Instant.MIN;

  public DeadLetterMonitor(
      DataSource dataSource, String schema, MeterRegistry registry, InstantSource clock) {
    this.dataSource = dataSource;
    this.clock = clock;
    this.sql =
        "SELECT count(*), min(created_at) FROM \""
            + schema
            + "\".dead_letter WHERE decision IS NULL";
    Gauge.builder("spillway.dead.letters.waiting", this, m -> m.gauge)
        .description(
            "Dead letters waiting for a decision (rows of dead_letter neither replayed nor"
                + " discarded)")
        .register(registry);
  }

  /** Counts and updates the gauge; throws when PostgreSQL cannot be read. */
  public Waiting refresh() {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      long n = rs.getLong(1);
      Timestamp oldest = rs.getTimestamp(2);
      gauge = n;
      return new Waiting(n, Optional.ofNullable(oldest).map(Timestamp::toInstant));
    } catch (SQLException e) {
      throw new IllegalStateException("counting dead letters failed: " + e.getMessage(), e);
    }
  }

  /** Counts, updates the gauge, and logs a warning while dead letters wait. */
  public synchronized Waiting check() {
    Waiting w = refresh();
    Instant now = clock.instant();
    if (w.count() > 0
        && (w.count() != lastLoggedCount || !now.isBefore(lastLoggedAt.plus(REPEAT)))) {
      log.warn(
          "event=dead_letters_waiting count={} oldest={} fix=\"inspect with spillway dead-letter"
              + " list, fix the cause, then spillway dead-letter replay (maybe_counted rows: replay"
              + " or discard each one by --id)\"",
          w.count(),
          w.oldest().map(Instant::toString).orElse("-"));
      lastLoggedCount = w.count();
      lastLoggedAt = now;
    } else if (w.count() == 0 && lastLoggedCount > 0) {
      log.info("event=dead_letters_cleared");
      lastLoggedCount = 0;
    }
    return w;
  }
}
