package dev.spillway.store;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * Encodes PostgreSQL's binary {@code COPY} format (signature, tuples of length-prefixed fields,
 * trailer) into a reusable 64 KiB buffer and hands it to the driver in large pieces. Types: text
 * (UTF-8 bytes), bigint and timestamptz (8 bytes, big-endian; timestamptz in microseconds since
 * 2000-01-01 UTC), "char" (1 byte), text[] (binary array format).
 */
final class CopyBuffer {
  private static final byte[] SIGNATURE = {
    'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0
  };
  private final CopyIn in;
  private final byte[] b = new byte[1 << 16];
  private int at;

  CopyBuffer(CopyIn in) {
    this.in = in;
  }

  /** Writes the tuples of one binary COPY. */
  @FunctionalInterface
  interface Tuples {
    void write(CopyBuffer buf) throws SQLException;
  }

  /**
   * Runs {@code COPY <table> FROM STDIN (FORMAT binary)} on {@code c}: the header, what {@code
   * tuples} writes, the trailer; a COPY that fails midway is cancelled, so the connection stays
   * usable for the rollback.
   */
  static void copy(Connection c, String table, Tuples tuples) throws SQLException {
    CopyIn in =
        c.unwrap(PGConnection.class)
            .getCopyAPI()
            .copyIn("COPY " + table + " FROM STDIN (FORMAT binary)");
    try {
      CopyBuffer buf = new CopyBuffer(in);
      buf.header();
      tuples.write(buf);
      buf.trailer();
      buf.flush();
      in.endCopy();
    } finally {
      if (in.isActive()) {
        in.cancelCopy();
      }
    }
  }

  void header() throws SQLException {
    room(SIGNATURE.length + 8);
    System.arraycopy(SIGNATURE, 0, b, 0, SIGNATURE.length);
    at = SIGNATURE.length;
    int4(0); // flags: no OIDs
    int4(0); // header extension length
  }

  void fields(int n) throws SQLException {
    room(2);
    b[at++] = (byte) (n >>> 8);
    b[at++] = (byte) n;
  }

  void trailer() throws SQLException {
    fields(-1);
  }

  void text(String s) throws SQLException {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    room(4);
    int4(bytes.length);
    raw(bytes);
  }

  /** A one-dimensional text[] without nulls (binary array format, element type text). */
  void textArray(List<String> values) throws SQLException {
    byte[][] bytes = new byte[values.size()][];
    int len = 20;
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = values.get(i).getBytes(StandardCharsets.UTF_8);
      len += 4 + bytes[i].length;
    }
    room(4 + 20);
    int4(len);
    int4(1); // dimensions
    int4(0); // no nulls
    int4(25); // element type: text
    int4(bytes.length); // length of the dimension
    int4(1); // lower bound
    for (byte[] e : bytes) {
      room(4);
      int4(e.length);
      raw(e);
    }
  }

  private void raw(byte[] bytes) throws SQLException {
    if (bytes.length > b.length - at) {
      flush();
      if (bytes.length > b.length) {
        in.writeToCopy(bytes, 0, bytes.length);
        return;
      }
    }
    System.arraycopy(bytes, 0, b, at, bytes.length);
    at += bytes.length;
  }

  void oneByte(byte v) throws SQLException {
    room(5);
    int4(1);
    b[at++] = v;
  }

  void int8(long v) throws SQLException {
    room(12);
    int4(8);
    for (int shift = 56; shift >= 0; shift -= 8) {
      b[at++] = (byte) (v >>> shift);
    }
  }

  private void int4(int v) {
    b[at++] = (byte) (v >>> 24);
    b[at++] = (byte) (v >>> 16);
    b[at++] = (byte) (v >>> 8);
    b[at++] = (byte) v;
  }

  private void room(int n) throws SQLException {
    if (b.length - at < n) {
      flush();
    }
  }

  void flush() throws SQLException {
    if (at > 0) {
      in.writeToCopy(b, 0, at);
      at = 0;
    }
  }
}
