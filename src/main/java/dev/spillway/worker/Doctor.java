package dev.spillway.worker;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.Redactor;
import dev.spillway.report.PartitionUpkeep;
import dev.spillway.schedule.JobScheduler;
import dev.spillway.store.Database;
import java.io.IOException;
import java.net.InetAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@code spillway doctor}: checks the deployment and explains, one line per check, with the fix.
 * Each check stands alone: an unreachable server fails its own line and skips the lines that need
 * it, never the whole run. Nothing is written anywhere.
 *
 * <p>WARN is for settings that make a loss possible or performance poor (an evicting Redis, no
 * persistence, dead letters waiting); FAIL is for what stops Spillway from working or from counting
 * exactly once (an unreachable server, Redis older than 6.2, pending migrations, a pending batch
 * older than the ledger retention).
 */
public final class Doctor extends DoctorLines {
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);

  /** A batch pending longer than this means flushing is behind or failing. */
  static final Duration LAG_WARNING = Duration.ofMinutes(1);

  /** How bad a line is. */
  public enum Status {
    OK,
    WARN,
    FAIL
  }

  /** One line of the report. {@code fix} is empty for OK. */
  public record Line(Status status, String check, String message, String fix) {
    @Override
    public String toString() {
      return String.format(
          "%-4s  %-24s %s%s", status, check, message, fix.isEmpty() ? "" : "; fix: " + fix);
    }
  }

  private final SpillwayConfig config;
  private final InstantSource clock;

  private Doctor(SpillwayConfig config, InstantSource clock) {
    super(new ArrayList<>());
    this.config = config;
    this.clock = clock;
  }

  /**
   * Runs every check against the configured servers. Every line is redacted ({@link Redactor}):
   * drivers' messages ("Unable to parse URL ...") repeat URLs with their secrets.
   */
  public static List<Line> run(SpillwayConfig config, InstantSource clock) {
    Doctor d = new Doctor(config, clock);
    new RedisDoctor(config, clock, d.lines).run();
    d.postgresChecks();
    d.httpCheck();
    Redactor redactor = Redactor.of(config);
    return d.lines.stream()
        .map(
            l ->
                new Line(
                    l.status(), l.check(), redactor.redact(l.message()), redactor.redact(l.fix())))
        .toList();
  }

  // ---------------------------------------------------------------- PostgreSQL

  private void postgresChecks() {
    Properties props = new Properties();
    props.setProperty("user", config.jdbcUser());
    props.setProperty("password", config.jdbcPassword());
    props.setProperty("connectTimeout", Long.toString(CONNECT_TIMEOUT.toSeconds()));
    props.setProperty("socketTimeout", "30");
    props.setProperty("ApplicationName", "spillway-doctor");
    String url = Redactor.of(config).redactUri(config.jdbcUrl());
    try (Connection c = DriverManager.getConnection(config.jdbcUrl(), props)) {
      int version;
      String human;
      try (Statement st = c.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT current_setting('server_version_num')::int,"
                      + " current_setting('server_version')")) {
        rs.next();
        version = rs.getInt(1);
        human = rs.getString(2);
      }
      if (version >= 120000) {
        ok("postgres", "PostgreSQL " + human + " answers at " + url + " as " + config.jdbcUser());
      } else {
        fail(
            "postgres.version",
            "PostgreSQL " + human + " is older than 12",
            "upgrade PostgreSQL to 12 or newer");
      }
      if (!migrations()) {
        return; // the table checks below would only repeat the failure
      }
      deadLetters(c);
      defaultPartition();
      cluster(c);
    } catch (SQLException e) {
      fail(
          "postgres",
          "cannot reach PostgreSQL at " + url + " as " + config.jdbcUser() + ": " + e.getMessage(),
          "check postgres.jdbc-url, postgres.user and SPILLWAY_JDBC_PASSWORD, and that PostgreSQL"
              + " runs");
    }
  }

  private boolean migrations() {
    try {
      MigrationInfo[] pending =
          Flyway.configure(Doctor.class.getClassLoader())
              .dataSource(config.jdbcUrl(), config.jdbcUser(), config.jdbcPassword())
              .schemas(config.schema())
              .defaultSchema(config.schema())
              .locations(Database.MIGRATIONS)
              .placeholders(Map.of("schema", '"' + config.schema() + '"'))
              .load()
              .info()
              .pending();
      if (pending.length == 0) {
        ok("postgres.migrations", "schema " + config.schema() + " is up to date");
        return true;
      }
      List<String> versions = new ArrayList<>();
      for (MigrationInfo m : pending) {
        versions.add("V" + m.getVersion());
      }
      fail(
          "postgres.migrations",
          pending.length
              + " migration(s) not applied to schema "
              + config.schema()
              + ": "
              + versions,
          "run spillway migrate --config <file> (the worker also migrates at start)");
      return false;
    } catch (RuntimeException e) {
      fail(
          "postgres.migrations",
          "cannot read the migration history: " + rootMessage(e),
          "run spillway migrate");
      return false;
    }
  }

  private void defaultPartition() {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setURL(config.jdbcUrl());
    ds.setUser(config.jdbcUser());
    ds.setPassword(config.jdbcPassword());
    try {
      long n = new PartitionUpkeep(ds, config, clock).defaultPartitionRows();
      if (n == 0) {
        ok("partitions.default", "the DEFAULT partition of counter_buckets is empty");
      } else if (n < 0) {
        warn(
            "partitions.default",
            "counter_buckets has no DEFAULT partition: a bucket no range"
                + " partition covers would fail its flush",
            "run spillway report maintain (partition upkeep recreates it)");
      } else {
        warn(
            "partitions.default",
            n
                + " row(s) in the DEFAULT partition of counter_buckets:"
                + " partitions were not created ahead (is partition upkeep scheduled?) or events"
                + " are far in the past or future",
            "run spillway report maintain (upkeep moves them into range partitions)");
      }
    } catch (RuntimeException e) {
      warn(
          "partitions.default",
          "cannot inspect the partitions: " + rootMessage(e),
          "run spillway migrate, then spillway report maintain");
    }
  }

  private void deadLetters(Connection c) throws SQLException {
    String sql =
        "SELECT count(*), min(created_at), count(*) FILTER (WHERE kind = 'maybe_counted') FROM \""
            + config.schema()
            + "\".dead_letter WHERE decision IS NULL";
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      long n = rs.getLong(1);
      if (n == 0) {
        ok("dead-letters", "no dead letters waiting");
      } else {
        long maybeCounted = rs.getLong(3);
        warn(
            "dead-letters",
            n
                + " dead letter(s) waiting, oldest from "
                + rs.getTimestamp(2).toInstant()
                + (maybeCounted == 0
                    ? ""
                    : "; "
                        + maybeCounted
                        + " of them maybe_counted (Redis"
                        + " rollback: their cells may already be counted)"),
            "spillway dead-letter list, fix the cause, then spillway dead-letter replay"
                + (maybeCounted == 0
                    ? ""
                    : "; decide each maybe_counted row with dead-letter"
                        + " replay --id N or dead-letter discard --id N --reason ..."));
      }
    }
  }

  private void cluster(Connection c) throws SQLException {
    if (!config.worker().cluster()) {
      ok(
          "quartz.cluster",
          "worker.cluster is false: schedules live in memory, so run one worker (or set"
              + " worker.cluster: true to share them)");
      return;
    }
    String sql =
        "SELECT instance_name, last_checkin_time, checkin_interval FROM \""
            + config.schema()
            + "\".qrtz_scheduler_state WHERE sched_name = ? ORDER BY instance_name";
    List<String> alive = new ArrayList<>();
    List<String> silent = new ArrayList<>();
    long now = clock.millis();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, JobScheduler.clusterName(config.schema()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          long ago = now - rs.getLong(2);
          // Quartz declares a member failed after its interval plus 7.5 s of silence.
          boolean ok = ago <= rs.getLong(3) + 7500;
          (ok ? alive : silent).add(rs.getString(1) + " (" + Math.max(0, ago / 1000) + "s ago)");
        }
      }
    }
    if (alive.isEmpty()) {
      warn(
          "quartz.cluster",
          "no worker has checked in recently" + (silent.isEmpty() ? "" : "; silent: " + silent),
          "start spillway worker on at least one host");
    } else {
      ok(
          "quartz.cluster",
          alive.size()
              + " member(s) checked in: "
              + alive
              + (silent.isEmpty() ? "" : "; silent, being taken over: " + silent));
    }
  }

  // ---------------------------------------------------------------- worker

  private void httpCheck() {
    String bind = config.worker().httpBind();
    boolean loopback;
    try {
      loopback = InetAddress.getByName(bind).isLoopbackAddress();
    } catch (IOException e) {
      warn(
          "worker.http",
          "worker.http.bind " + bind + " does not resolve",
          "use an address such as 127.0.0.1");
      return;
    }
    if (loopback) {
      ok(
          "worker.http",
          "/metrics and /health listen on "
              + bind
              + ":"
              + config.worker().httpPort()
              + " (loopback)");
    } else {
      warn(
          "worker.http",
          "/metrics and /health listen on "
              + bind
              + ", reachable from other hosts, without"
              + " authentication",
          "bind 127.0.0.1 behind a reverse proxy, or firewall port " + config.worker().httpPort());
    }
  }

  // ---------------------------------------------------------------- helpers

  static Map<String, String> info(String text) {
    Map<String, String> out = new HashMap<>();
    for (String line : text.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("#")) {
        out.put(line.substring(0, colon), line.substring(colon + 1).trim());
      }
    }
    return out;
  }

  static boolean atLeast(String version, int major, int minor) {
    String[] parts = version.split("\\.");
    try {
      int ma = Integer.parseInt(parts[0]);
      int mi = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
      return ma > major || (ma == major && mi >= minor);
    } catch (NumberFormatException e) {
      return false;
    }
  }

  static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return Redactor.mask(t.getMessage() == null ? t.toString() : t.getMessage());
  }
}
