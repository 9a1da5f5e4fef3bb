package dev.spillway.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.Durations;
import dev.spillway.config.Redactor;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.postgresql.Driver;

/**
 * The PostgreSQL side of a Spillway runtime: one HikariCP pool and the Flyway migrations that
 * create the {@code schema} (default {@code spillway}). The schema name has been validated against
 * {@code [a-z_][a-z0-9_]{0,62}} by {@link SpillwayConfig} and is always used quoted.
 *
 * <p>Opening the pool never waits for PostgreSQL (buffered counts wait in Redis meanwhile); {@link
 * #migrate()} and {@link #requireReachable} first try one connection of their own, so an
 * unreachable server is reported at once, in one sentence ({@link PostgresUnavailableException}),
 * rather than after the pool's wait and Flyway's retry.
 */
public final class Database implements AutoCloseable {
  /** Where the migrations sit inside the jar (copied there from the top-level migrations/). */
  public static final String MIGRATIONS = "classpath:dev/spillway/migrations";

  /** The pool this object opened and closes; null when the application supplied the DataSource. */
  private final HikariDataSource pool;

  private final DataSource dataSource;
  private final SpillwayConfig config;
  private final String schema;

  private Database(HikariDataSource pool, SpillwayConfig config) {
    this(pool, pool, config);
  }

  private Database(HikariDataSource pool, DataSource dataSource, SpillwayConfig config) {
    this.pool = pool;
    this.dataSource = dataSource;
    this.config = config;
    this.schema = config.schema();
  }

  /**
   * Uses the application's own {@code DataSource} (e.g. Spring Boot's pool) instead of opening one:
   * {@code postgres.jdbc-url}, {@code user}, {@code password} and {@code pool-size} are then not
   * used for it, and {@link #close()} leaves it open (it belongs to the application).
   */
  public static Database external(DataSource dataSource, SpillwayConfig config) {
    return new Database(null, Objects.requireNonNull(dataSource, "dataSource"), config);
  }

  /** Opens the pool, which keeps one connection ready once PostgreSQL answers. */
  public static Database open(SpillwayConfig config) {
    return open(config, 1);
  }

  /**
   * Opens a pool that connects on first use only: for runtimes that may never touch PostgreSQL (the
   * CLI's {@code incr}), so that no background connection attempt runs while it is away.
   */
  public static Database openLazily(SpillwayConfig config) {
    return open(config, 0);
  }

  private static Database open(SpillwayConfig config, int minimumIdle) {
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("spillway");
    hc.setJdbcUrl(config.jdbcUrl());
    hc.setUsername(config.jdbcUser());
    hc.setPassword(config.jdbcPassword());
    hc.setMaximumPoolSize(config.poolSize());
    hc.setMinimumIdle(minimumIdle);
    hc.setConnectionTimeout(config.postgresConnectTimeout().toMillis());
    hc.addDataSourceProperty("connectTimeout", driverSeconds(config.postgresConnectTimeout()));
    hc.addDataSourceProperty("loginTimeout", driverSeconds(config.postgresConnectTimeout()));
    // Flush transactions are short by design; a stuck one must not hold row locks forever.
    hc.addDataSourceProperty("options", "-c statement_timeout=60000");
    hc.addDataSourceProperty("tcpKeepAlive", "true");
    hc.addDataSourceProperty("ApplicationName", "spillway");
    // The pool must come up even while PostgreSQL is briefly away: buffered counts wait in Redis.
    hc.setInitializationFailTimeout(-1);
    try {
      return new Database(new HikariDataSource(hc), config);
    } catch (RuntimeException e) {
      // pgjdbc's "Unable to parse URL ..." repeats the URL, password= and all.
      Redactor redactor = Redactor.of(config);
      throw new SpillwayException(
          "cannot create the PostgreSQL pool for "
              + redactor.redactUri(config.jdbcUrl())
              + ": "
              + redactor.redact(e.getMessage()),
          e);
    }
  }

  /**
   * Applies pending migrations; returns how many ran.
   *
   * @throws PostgresUnavailableException when PostgreSQL cannot be reached (checked first, within
   *     {@code postgres.connect-timeout})
   */
  public int migrate() {
    if (pool == null) {
      requireReachable(dataSource);
    } else {
      requireReachable(config);
    }
    try {
      MigrateResult r =
          Flyway.configure(Database.class.getClassLoader())
              .dataSource(dataSource)
              .schemas(schema)
              .defaultSchema(schema)
              .createSchemas(true)
              // A schema that already holds other tables (postgres.schema: public, say) is
              // baselined at version 0, so every Spillway migration still runs.
              .baselineOnMigrate(true)
              .baselineVersion("0")
              .locations(MIGRATIONS)
              .placeholders(Map.of("schema", quote(schema)))
              .load()
              .migrate();
      return r.migrationsExecuted;
    } catch (RuntimeException e) {
      boolean unreachable = false;
      for (Throwable t = e; t != null; t = t.getCause()) {
        unreachable |=
            t instanceof ConnectException
                || (t instanceof SQLException sql
                    && sql.getSQLState() != null
                    && sql.getSQLState().startsWith("08"));
      }
      throw new SpillwayException(
          "migrating schema "
              + schema
              + " failed: "
              + e.getMessage()
              + (unreachable
                  ? " (is PostgreSQL reachable at the configured postgres.jdbc-url?)"
                  : ""),
          e);
    }
  }

  /**
   * Opens and closes one connection of its own (not the pool's, whose wait would retry for the
   * whole {@code postgres.connect-timeout} on a refused connection), within {@code
   * postgres.connect-timeout}.
   *
   * @throws PostgresUnavailableException naming {@code host:port} and the cause, never the password
   */
  public static void requireReachable(SpillwayConfig config) {
    Properties p = new Properties();
    p.setProperty("user", config.jdbcUser());
    p.setProperty("password", config.jdbcPassword());
    p.setProperty("connectTimeout", driverSeconds(config.postgresConnectTimeout()));
    p.setProperty("loginTimeout", driverSeconds(config.postgresConnectTimeout()));
    p.setProperty("ApplicationName", "spillway");
    try (Connection c = new Driver().connect(config.jdbcUrl(), p)) {
      if (c == null) {
        throw new SQLException("the PostgreSQL driver does not accept this URL");
      }
    } catch (SQLException | RuntimeException e) {
      throw unavailable(config, e);
    }
  }

  /** {@link #requireReachable(SpillwayConfig)} for an application's {@code DataSource}. */
  private static void requireReachable(DataSource dataSource) {
    try (Connection c = dataSource.getConnection()) {
      c.isValid(1);
    } catch (SQLException | RuntimeException e) {
      String reason = firstLine(e.getMessage() == null ? e.toString() : e.getMessage());
      throw new PostgresUnavailableException(
          "cannot reach PostgreSQL through the application's DataSource (" + reason + ")",
          "application DataSource",
          reason,
          e);
    }
  }

  static PostgresUnavailableException unavailable(SpillwayConfig config, Throwable e) {
    String address = address(config.jdbcUrl());
    String state = null;
    Throwable root = e;
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && state == null) {
        state = sql.getSQLState();
      }
      root = t;
    }
    String reason;
    String hint;
    if (state != null && state.startsWith("28")) {
      reason = "login of user '" + config.jdbcUser() + "' refused: " + serverMessage(e);
      hint = "check postgres.user and postgres.password";
    } else if ("3D000".equals(state)) {
      reason = serverMessage(e);
      hint = "check the database name in postgres.jdbc-url";
    } else {
      reason =
          switch (root) {
            case ConnectException c -> "connection refused";
            case SocketTimeoutException t ->
                "no answer within " + Durations.format(config.postgresConnectTimeout());
            case UnknownHostException u -> "unknown host";
            case NoRouteToHostException n -> "no route to host";
            default -> firstLine(root.getMessage() == null ? root.toString() : root.getMessage());
          };
      hint = "is it running? (postgres.jdbc-url)";
    }
    return new PostgresUnavailableException(
        "cannot reach PostgreSQL at " + address + " (" + reason + "); " + hint, address, reason, e);
  }

  /** {@code host:port} of every server the URL names; no user, password or parameter. */
  static String address(String jdbcUrl) {
    Properties p = Driver.parseURL(jdbcUrl, null);
    if (p == null) {
      return "(unparseable postgres.jdbc-url)";
    }
    String[] hosts = p.getProperty("PGHOST", "localhost").split(",");
    String[] ports = p.getProperty("PGPORT", "5432").split(",");
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < hosts.length; i++) {
      out.append(i == 0 ? "" : ",")
          .append(hosts[i])
          .append(':')
          .append(ports[Math.min(i, ports.length - 1)]);
    }
    return out.toString();
  }

  /** The server's own words without its severity prefix ({@code FATAL: }). */
  private static String serverMessage(Throwable e) {
    String m = firstLine(String.valueOf(e.getMessage()));
    return m.replaceFirst("^(FATAL|ERROR): ", "");
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    String line = (nl < 0 ? s : s.substring(0, nl)).trim();
    return line.toLowerCase(Locale.ROOT).startsWith("connection to ") && line.contains("refused")
        ? "connection refused"
        : line;
  }

  /** The driver counts whole seconds; round up so that 250ms does not become "no limit". */
  private static String driverSeconds(Duration d) {
    return Long.toString(Math.max(1, (d.toMillis() + 999) / 1000));
  }

  public DataSource dataSource() {
    return dataSource;
  }

  /**
   * The pool this object opened; null when it uses the application's DataSource ({@link
   * #external}).
   */
  public HikariDataSource pool() {
    return pool;
  }

  public String schema() {
    return schema;
  }

  /** The schema name as a quoted SQL identifier; safe because the name was validated. */
  public String quotedSchema() {
    return quote(schema);
  }

  static String quote(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.close();
    }
  }
}
