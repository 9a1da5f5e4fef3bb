package dev.spillway.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.spillway.Redactor;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import java.time.Duration;
import java.util.Map;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The PostgreSQL side of a Spillway runtime: one HikariCP pool and the Flyway migrations that
 * create the {@code schema} (default {@code spillway}). The schema name has been validated
 * against {@code [a-z_][a-z0-9_]{0,62}} by {@link SpillwayConfig} and is always used quoted.
 */
public final class Database implements AutoCloseable {
  /** Where the migrations sit inside the jar (copied there from the top-level migrations/). */
  public static final String MIGRATIONS = "classpath:dev/spillway/migrations";

  private final HikariDataSource pool;
  private final String schema;

  private Database(HikariDataSource pool, String schema) {
    this.pool = pool;
    this.schema = schema;
  }

  public static Database open(SpillwayConfig config) {
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("spillway");
    hc.setJdbcUrl(config.jdbcUrl());
    hc.setUsername(config.jdbcUser());
    hc.setPassword(config.jdbcPassword());
    hc.setMaximumPoolSize(config.poolSize());
    hc.setMinimumIdle(1);
    hc.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
    // Flush transactions are short by design; a stuck one must not hold row locks forever.
    hc.addDataSourceProperty("options", "-c statement_timeout=60000");
    hc.addDataSourceProperty("tcpKeepAlive", "true");
    hc.addDataSourceProperty("ApplicationName", "spillway");
    // The pool must come up even while PostgreSQL is briefly away: buffered counts wait in Redis.
    hc.setInitializationFailTimeout(-1);
    try {
      return new Database(new HikariDataSource(hc), config.schema());
    } catch (RuntimeException e) {
      // pgjdbc's "Unable to parse URL ..." repeats the URL, password= and all.
      Redactor redactor = Redactor.of(config);
      throw new SpillwayException(
          "cannot create the PostgreSQL pool for " + redactor.redactUri(config.jdbcUrl()) + ": "
              + redactor.redact(e.getMessage()),
          e);
    }
  }

  /** Applies pending migrations; returns how many ran. */
  public int migrate() {
    try {
      MigrateResult r =
          Flyway.configure(Database.class.getClassLoader())
              .dataSource(pool)
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
        unreachable |= t instanceof java.net.ConnectException
            || (t instanceof java.sql.SQLException sql && sql.getSQLState() != null
                && sql.getSQLState().startsWith("08"));
      }
      throw new SpillwayException(
          "migrating schema " + schema + " failed: " + e.getMessage()
              + (unreachable ? " (is PostgreSQL reachable at the configured postgres.jdbc-url?)" : ""),
          e);
    }
  }

  public DataSource dataSource() {
    return pool;
  }

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
    pool.close();
  }
}
