package dev.spillway.store;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * Writes rows of {@code dead_letter} for native counters, set-based, in the caller's transaction
 * (so a dead letter commits exactly when the rest of its batch does), each with its class.
 */
final class DeadLetterWriter {
  private final String deadLetterInsert;

  DeadLetterWriter(String s) {
    this.deadLetterInsert =
        "INSERT INTO "
            + s
            + ".dead_letter (batch_id, source, counter, key, granularity, bucket_start, delta, raw,"
            + " reason, kind) SELECT u.b, u.src, u.c, u.k, u.g::\"char\", to_timestamp(u.bs), u.d,"
            + " u.r, u.why, u.kind FROM unnest(?::text[], ?::text[], ?::text[], ?::text[],"
            + " ?::text[], ?::bigint[], ?::numeric[], ?::text[], ?::text[], ?::text[]) AS u(b, src,"
            + " c, k, g, bs, d, r, why, kind)";
  }

  void insert(Connection c, List<DeadRow> dead) throws SQLException {
    if (dead.isEmpty()) {
      return;
    }
    int n = dead.size();
    String[] b = new String[n];
    String[] src = new String[n];
    String[] ctr = new String[n];
    String[] key = new String[n];
    String[] g = new String[n];
    Long[] bs = new Long[n];
    BigDecimal[] d = new BigDecimal[n];
    String[] raw = new String[n];
    String[] why = new String[n];
    String[] kind = new String[n];
    for (int i = 0; i < n; i++) {
      DeadRow r = dead.get(i);
      b[i] = r.batchId();
      src[i] = r.source();
      ctr[i] = storable(r.counter());
      key[i] = storable(r.key());
      g[i] = r.granularity();
      bs[i] = r.bucketStart();
      d[i] = r.delta() == null ? null : new BigDecimal(r.delta());
      raw[i] = storable(r.raw());
      why[i] = storable(r.reason());
      kind[i] = r.kind().sql();
    }
    try (PreparedStatement ps = c.prepareStatement(deadLetterInsert)) {
      ps.setArray(1, c.createArrayOf("text", b));
      ps.setArray(2, c.createArrayOf("text", src));
      ps.setArray(3, c.createArrayOf("text", ctr));
      ps.setArray(4, c.createArrayOf("text", key));
      ps.setArray(5, c.createArrayOf("text", g));
      ps.setArray(6, c.createArrayOf("int8", bs));
      ps.setArray(7, c.createArrayOf("numeric", d));
      ps.setArray(8, c.createArrayOf("text", raw));
      ps.setArray(9, c.createArrayOf("text", why));
      ps.setArray(10, c.createArrayOf("text", kind));
      ps.executeUpdate();
    }
  }

  /** PostgreSQL text cannot hold NUL: foreign garbage is kept visible as the escape {@code \0}. */
  static String storable(String s) {
    return s == null || s.indexOf('\u0000') < 0 ? s : s.replace("\u0000", "\\0");
  }
}
