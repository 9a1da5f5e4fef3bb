package dev.spillway.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;

/**
 * Writes a transaction's {@link CellColumns} the way PostgreSQL takes rows fastest: binary {@code
 * COPY} into a temporary table of the session ({@code ON COMMIT DELETE ROWS}, created once per
 * physical connection, {@link #begin}), then one set-based {@code INSERT ... SELECT ... ORDER BY
 * ... ON CONFLICT DO UPDATE} from it. The server parses no text and the rows travel as a byte
 * stream.
 *
 * <p>Lock order: the upsert reads the rows {@code ORDER BY counter, key[, granularity, start]}
 * (collation "C"), so two flushers that touch the same rows lock them in the same order and cannot
 * deadlock each other.
 *
 * <p>Overflow: {@code DO UPDATE ... WHERE} leaves a row untouched when its new value would not fit
 * a bigint (compared in bigint arithmetic, no numeric cast per row). The statement's update count
 * tells whether every row was written; only when it falls short (rare) is it redone, after a
 * rollback to a savepoint taken after the COPY, as an anti-join that names the refused rows.
 *
 * <p>The only identifier spliced into SQL is the validated, quoted schema name.
 */
final class CopyUpsert {
  private static final String TOTALS_IN = "pg_temp.spillway_totals_in";
  private static final String BUCKETS_IN = "pg_temp.spillway_buckets_in";
  private static final String FITS =
      " WHERE CASE WHEN excluded.%1$s >= 0 THEN t.%1$s <= 9223372036854775807 - excluded.%1$s"
          + " ELSE t.%1$s >= '-9223372036854775808'::bigint - excluded.%1$s END";

  /** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC). */
  private static final long PG_EPOCH_MICROS = 946_684_800L * 1_000_000L;

  private final String totalsUpsert;
  private final String totalsRefused;
  private final String bucketsUpsert;
  private final String bucketsRefused;

  CopyUpsert(String quotedSchema) {
    this.totalsUpsert =
        "INSERT INTO "
            + quotedSchema
            + ".counter_totals AS t (counter, key, total, updated_at)"
            + " SELECT u.c, u.k, u.d, now() FROM "
            + TOTALS_IN
            + " u ORDER BY u.c, u.k"
            + " ON CONFLICT (counter, key) DO UPDATE"
            + " SET total = t.total + excluded.total, updated_at = excluded.updated_at"
            + String.format(FITS, "total");
    this.totalsRefused =
        "WITH w AS ("
            + totalsUpsert
            + " RETURNING t.counter, t.key)"
            + " SELECT u.c, u.k, u.d FROM "
            + TOTALS_IN
            + " u WHERE NOT EXISTS"
            + " (SELECT 1 FROM w WHERE w.counter = u.c AND w.key = u.k)";
    this.bucketsUpsert =
        "INSERT INTO "
            + quotedSchema
            + ".counter_buckets AS t (counter, key, granularity, bucket_start, value)"
            + " SELECT u.c, u.k, u.g, u.b, u.d FROM "
            + BUCKETS_IN
            + " u ORDER BY u.c, u.k, u.g, u.b"
            + " ON CONFLICT (counter, key, granularity, bucket_start) DO UPDATE"
            + " SET value = t.value + excluded.value"
            + String.format(FITS, "value");
    this.bucketsRefused =
        "WITH w AS ("
            + bucketsUpsert
            + " RETURNING t.counter, t.key, t.granularity, t.bucket_start)"
            + " SELECT u.c, u.k, u.g::text, extract(epoch FROM u.b)::bigint, u.d FROM "
            + BUCKETS_IN
            + " u WHERE NOT EXISTS (SELECT 1 FROM w WHERE w.counter = u.c AND w.key = u.k"
            + " AND w.granularity = u.g AND w.bucket_start = u.b)";
  }

  /**
   * Readies the transaction on {@code c}: creates the session's temporary tables unless it has them
   * (once per physical connection; checked in every transaction, so a pooler, a reset or a
   * rolled-back creation never leaves a transaction without them) and gives the sort of the upsert
   * enough memory not to spill. One round trip; the notice "already exists" is not sent.
   */
  void begin(Connection c) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute(
          "SET LOCAL client_min_messages = warning;"
              + " CREATE TEMP TABLE IF NOT EXISTS "
              + TOTALS_IN.substring(8)
              + " (c text COLLATE \"C\","
              + " k text COLLATE \"C\", d bigint) ON COMMIT DELETE ROWS;"
              + " CREATE TEMP TABLE IF NOT EXISTS "
              + BUCKETS_IN.substring(8)
              + " (c text COLLATE \"C\","
              + " k text COLLATE \"C\", g \"char\", b timestamptz, d bigint) ON COMMIT DELETE ROWS;"
              + " SET LOCAL work_mem = '64MB'");
    }
  }

  /** A refused row: its index in the columns. */
  @FunctionalInterface
  interface Refused {
    void row(int index) throws SQLException;
  }

  /** Ships the rows (binary COPY); returns the nanoseconds spent, for the phase breakdown. */
  long ship(Connection c, CellColumns rows) throws SQLException {
    long t0 = System.nanoTime();
    CopyBuffer.copy(
        c,
        rows.buckets() ? BUCKETS_IN : TOTALS_IN,
        buf -> {
          int n = rows.size();
          if (rows.buckets()) {
            for (int i = 0; i < n; i++) {
              buf.fields(5);
              buf.text(rows.counter(i));
              buf.text(rows.key(i));
              buf.oneByte((byte) rows.granularity(i));
              buf.int8(rows.startSeconds(i) * 1_000_000L - PG_EPOCH_MICROS);
              buf.int8(rows.sum(i));
            }
          } else {
            for (int i = 0; i < n; i++) {
              buf.fields(3);
              buf.text(rows.counter(i));
              buf.text(rows.key(i));
              buf.int8(rows.sum(i));
            }
          }
        });
    return System.nanoTime() - t0;
  }

  /**
   * Upserts the shipped rows; calls {@code refused} for each row left untouched because its new
   * value would overflow. Returns the rows written.
   */
  int upsert(Connection c, CellColumns rows, Refused refused) throws SQLException {
    int n = rows.size();
    Savepoint sp = c.setSavepoint();
    try (PreparedStatement ps = c.prepareStatement(rows.buckets() ? bucketsUpsert : totalsUpsert)) {
      if (ps.executeUpdate() == n) {
        c.releaseSavepoint(sp);
        return n;
      }
    }
    c.rollback(sp);
    int out = 0;
    try (PreparedStatement ps =
            c.prepareStatement(rows.buckets() ? bucketsRefused : totalsRefused);
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        int i =
            rows.buckets()
                ? rows.find(
                    rs.getString(1), rs.getString(2), rs.getString(3).charAt(0), rs.getLong(4))
                : rows.find(rs.getString(1), rs.getString(2), '\0', 0L);
        if (i < 0) {
          throw new SQLException(
              "the upsert refused a row it was not given: "
                  + rs.getString(1)
                  + "/"
                  + rs.getString(2));
        }
        out++;
        refused.row(i);
      }
    }
    return n - out;
  }
}
