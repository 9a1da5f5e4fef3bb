package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.SpillwayException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * SQL helpers shared by the report package: quoting of identifiers (only ever names that come from
 * validated configuration or from the catalog), literals for DDL (which takes no parameters), and
 * transactions with the session settings upkeep needs.
 */
final class Sql {
  private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  private Sql() {}

  /** A double-quoted identifier. Refuses anything but a plain lower-case name. */
  static String ident(String name) {
    if (name == null || !IDENTIFIER.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "SQL identifier '" + name + "' must match " + IDENTIFIER.pattern());
    }
    return '"' + name + '"';
  }

  /** {@code "schema"."table"}. */
  static String table(String schema, String table) {
    return ident(schema) + "." + ident(table);
  }

  /**
   * A timestamptz literal for DDL, e.g. {@code '2026-03-29T00:00:00Z'}; independent of TimeZone.
   */
  static String literal(Instant t) {
    return "'" + t.toString() + "'";
  }

  /** {@code ('m', 'h')}: granularity codes come from the enum, never from input. */
  static String codes(Collection<Granularity> gs) {
    return gs.stream().map(g -> "'" + g.code() + "'").collect(Collectors.joining(", ", "(", ")"));
  }

  static OffsetDateTime utc(Instant t) {
    return t.atOffset(ZoneOffset.UTC);
  }

  /** Work inside one transaction; the connection is in auto-commit off mode. */
  @FunctionalInterface
  interface TxWork<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * Runs {@code work} in one READ COMMITTED transaction. With a {@code lockTimeout} (for DDL),
   * {@code lock_timeout} is set, so that DDL waiting behind a long report gives up instead of
   * making every flush queue behind it; without (null), lock waits are bounded by the pool's
   * statement timeout. Deadlocks and serialization failures are retried up to three times; anything
   * else is thrown as a {@link SpillwayException} starting with {@code what}.
   */
  static <T> T inTransaction(DataSource ds, Duration lockTimeout, String what, TxWork<T> work) {
    SQLException last = null;
    for (int attempt = 1; attempt <= 4; attempt++) {
      try (Connection c = ds.getConnection()) {
        c.setAutoCommit(false);
        try {
          if (lockTimeout != null) {
            try (Statement st = c.createStatement()) {
              st.execute("SET LOCAL lock_timeout = '" + lockTimeout.toMillis() + "ms'");
            }
          }
          T result = work.run(c);
          c.commit();
          return result;
        } catch (SQLException | RuntimeException e) {
          try {
            c.rollback();
          } catch (SQLException ignored) {
            // the connection is broken; the pool evicts it and nothing was committed
          }
          throw e;
        }
      } catch (SQLException e) {
        last = e;
        if (!"40P01".equals(e.getSQLState()) && !"40001".equals(e.getSQLState())) {
          break;
        }
      }
    }
    throw new SpillwayException(what + " failed: " + message(last), last);
  }

  /** The server's message with its SQLSTATE, e.g. {@code lock timeout (55P03)}. */
  static String message(SQLException e) {
    return e.getMessage() + (e.getSQLState() == null ? "" : " (SQLSTATE " + e.getSQLState() + ")");
  }
}
