package dev.spillway.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * What one test class may touch: the shared servers, plus its own PostgreSQL schema and Redis key
 * prefix. {@link ServicesExtension} creates the (empty) schema before the class and drops it, with
 * every key under the prefix, after it.
 *
 * <p>{@link #queryLong} and {@link #exec} run with {@code search_path} set to {@link #schema()}
 * then {@code public}, so assertions can name tables without a schema; the setting lasts one
 * transaction and never leaks into the shared pool.
 */
public record TestEnv(
    String redisUri,
    String jdbcUrl,
    String jdbcUser,
    String jdbcPassword,
    String schema,
    String keyPrefix,
    boolean redisCluster) {

  static final Pattern SCHEMA = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  public TestEnv {
    Objects.requireNonNull(redisUri, "redisUri");
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    Objects.requireNonNull(keyPrefix, "keyPrefix");
    if (schema == null || !SCHEMA.matcher(schema).matches()) {
      throw new IllegalArgumentException("schema '" + schema + "' must match " + SCHEMA);
    }
  }

  /**
   * This class's schema and key prefix on another Redis: a cluster or a server set a test starts
   * for itself.
   */
  public TestEnv onRedis(String uri, boolean cluster) {
    return new TestEnv(uri, jdbcUrl, jdbcUser, jdbcPassword, schema, keyPrefix, cluster);
  }

  /** A connection for inspecting this class's Redis (a single server or the cluster). */
  public TestRedis redis() {
    return TestRedis.connect(redisUri, redisCluster);
  }

  /** The pool shared by all test classes (see {@link TestServices#dataSource()}). */
  public DataSource dataSource() {
    return TestServices.dataSource();
  }

  /**
   * The first column of the first row as a {@code long}.
   *
   * @throws IllegalStateException if the query returns no row or SQL {@code NULL}
   */
  public long queryLong(String sql, Object... args) {
    try (Connection connection = dataSource().getConnection()) {
      return inSchema(
          connection,
          () -> {
            try (PreparedStatement statement = prepare(connection, sql, args);
                ResultSet rows = statement.executeQuery()) {
              if (!rows.next()) {
                throw new IllegalStateException("query returned no row: " + sql);
              }
              long value = rows.getLong(1);
              if (rows.wasNull()) {
                throw new IllegalStateException("query returned NULL: " + sql);
              }
              return value;
            }
          });
    } catch (SQLException e) {
      throw new IllegalStateException("query failed in schema " + schema + ": " + sql, e);
    }
  }

  /** Runs one statement (DDL or DML) in its own transaction. */
  public void exec(String sql, Object... args) {
    try (Connection connection = dataSource().getConnection()) {
      inSchema(
          connection,
          () -> {
            try (PreparedStatement statement = prepare(connection, sql, args)) {
              statement.execute();
              return 0L;
            }
          });
    } catch (SQLException e) {
      throw new IllegalStateException("statement failed in schema " + schema + ": " + sql, e);
    }
  }

  /** Hides the password, which a failing assertion would otherwise print. */
  @Override
  public String toString() {
    return "TestEnv[redisUri="
        + TestServices.masked(redisUri)
        + ", jdbcUrl="
        + TestServices.masked(jdbcUrl)
        + ", jdbcUser="
        + jdbcUser
        + ", schema="
        + schema
        + ", keyPrefix="
        + keyPrefix
        + ", redisCluster="
        + redisCluster
        + "]";
  }

  private interface SqlWork {
    long run() throws SQLException;
  }

  private long inSchema(Connection connection, SqlWork work) throws SQLException {
    connection.setAutoCommit(false);
    try {
      try (PreparedStatement path =
          connection.prepareStatement("SELECT set_config('search_path', ?, true)")) {
        path.setString(1, schema + ", public");
        path.execute();
      }
      long result = work.run();
      connection.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    }
  }

  private static PreparedStatement prepare(Connection connection, String sql, Object... args)
      throws SQLException {
    PreparedStatement statement = connection.prepareStatement(sql);
    try {
      for (int i = 0; i < args.length; i++) {
        statement.setObject(i + 1, args[i]);
      }
      return statement;
    } catch (SQLException | RuntimeException e) {
      statement.close();
      throw e;
    }
  }
}
