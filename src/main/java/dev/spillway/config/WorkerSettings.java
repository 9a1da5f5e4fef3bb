package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.quartz.CronExpression;

/**
 * Settings of the standalone worker process (section {@code worker:} of the YAML file). Ignored by
 * an embedded client.
 *
 * <p>Schedules ({@code flush.schedule}, {@code ledger.prune-schedule}, {@code
 * dead-letters.check-schedule}) are either an interval ({@code 500ms}, {@code 1h}) or a Quartz cron
 * expression with seconds ({@code "0 17 * * * ?"}). {@code flush.schedule} left unset means every
 * {@code flush.interval} (top-level {@code flush:} section).
 *
 * @param httpBind address of the /metrics and /health endpoint; loopback unless you mean it
 * @param httpPort its port; 0 picks a free one (the worker logs which)
 * @param cluster whether workers share their schedules through Quartz tables in PostgreSQL
 * @param clusterCheckinInterval how often a clustered worker checks in; a silent worker's jobs are
 *     taken over after about this plus 7.5 s
 * @param instanceId this worker's name in the cluster; null means {@code <host>-<pid>}
 * @param threads jobs that may run at once in this worker
 * @param shutdownTimeout on SIGTERM, how long running jobs may take to finish
 * @param flushGroups flush jobs, each over an equal share of the stripes, so a cluster spreads work
 * @param flushSchedule when each flush job runs; null means every {@code flush.interval}
 * @param ledgerRetention flush_ledger rows older than this are pruned (never while a batch older
 *     than this is pending in Redis)
 * @param ledgerPruneSchedule when pruning runs
 * @param deadLetterCheckSchedule when waiting dead letters are counted and reported
 * @param logFormat one line per event: key=value or JSON
 * @param logLevel level of Spillway's own loggers
 */
public record WorkerSettings(
    String httpBind,
    int httpPort,
    boolean cluster,
    Duration clusterCheckinInterval,
    String instanceId,
    int threads,
    Duration shutdownTimeout,
    int flushGroups,
    String flushSchedule,
    Duration ledgerRetention,
    String ledgerPruneSchedule,
    String deadLetterCheckSchedule,
    LogFormat logFormat,
    String logLevel) {

  /** How the worker writes its log lines. */
  public enum LogFormat {
    KEYVALUE,
    JSON
  }

  public static final String DEFAULT_HTTP_BIND = "127.0.0.1";
  public static final int DEFAULT_HTTP_PORT = 9464;
  public static final Duration DEFAULT_CLUSTER_CHECKIN_INTERVAL = Duration.ofMillis(7500);
  public static final int DEFAULT_THREADS = 4;
  public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

  /** Four flush jobs let up to four clustered workers flush at once, each on its own stripes. */
  public static final int DEFAULT_FLUSH_GROUPS = 4;

  public static final Duration DEFAULT_LEDGER_RETENTION = Duration.ofDays(7);

  /**
   * A shorter retention would let a batch that waited in Redis (PostgreSQL away for a weekend) lose
   * its ledger row and be applied twice; an hour is the floor, days are the norm.
   */
  public static final Duration MIN_LEDGER_RETENTION = Duration.ofHours(1);

  /** 100 years: far past any sensible audit horizon, and far from overflowing a timestamp. */
  public static final Duration MAX_LEDGER_RETENTION = Duration.ofDays(36_525);

  public static final String DEFAULT_LEDGER_PRUNE_SCHEDULE = "1h";
  public static final String DEFAULT_DEAD_LETTER_CHECK_SCHEDULE = "1m";
  static final Set<String> LOG_LEVELS = Set.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR");
  private static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9_.:-]{1,100}");

  public WorkerSettings {
    if (httpBind == null || httpBind.isBlank()) {
      throw new ConfigException("worker.http.bind must be an address like 127.0.0.1");
    }
    Checks.requireRange("worker.http.port", httpPort, 0, 65535);
    Checks.requireBetween(
        "worker.cluster-checkin-interval",
        clusterCheckinInterval,
        Duration.ofMillis(500),
        Duration.ofHours(1));
    if (instanceId != null && !INSTANCE_ID.matcher(instanceId).matches()) {
      throw new ConfigException(
          "worker.instance-id must match " + INSTANCE_ID + " but was '" + instanceId + "'");
    }
    Checks.requireRange("worker.threads", threads, 1, 64);
    Checks.requireBetween(
        "worker.shutdown-timeout", shutdownTimeout, Duration.ZERO, Duration.ofHours(1));
    Checks.requireRange("worker.flush.groups", flushGroups, 1, 1024);
    if (flushSchedule != null) {
      requireSchedule(
          "worker.flush.schedule", flushSchedule, Duration.ofMillis(10), Duration.ofDays(1));
    }
    Checks.requireBetween(
        "worker.ledger.retention", ledgerRetention, MIN_LEDGER_RETENTION, MAX_LEDGER_RETENTION);
    requireSchedule(
        "worker.ledger.prune-schedule",
        ledgerPruneSchedule,
        Duration.ofSeconds(1),
        Duration.ofDays(30));
    requireSchedule(
        "worker.dead-letters.check-schedule",
        deadLetterCheckSchedule,
        Duration.ofSeconds(1),
        Duration.ofDays(1));
    if (logFormat == null) {
      throw new ConfigException("worker.log.format must be one of [KEYVALUE, JSON]");
    }
    logLevel = logLevel == null ? "INFO" : logLevel.trim().toUpperCase(Locale.ROOT);
    if (!LOG_LEVELS.contains(logLevel)) {
      throw new ConfigException(
          "worker.log.level must be one of [TRACE, DEBUG, INFO, WARN, ERROR] but was '"
              + logLevel
              + "'");
    }
  }

  public static WorkerSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder pre-filled with these settings. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.httpBind = httpBind;
    b.httpPort = httpPort;
    b.cluster = cluster;
    b.clusterCheckinInterval = clusterCheckinInterval;
    b.instanceId = instanceId;
    b.threads = threads;
    b.shutdownTimeout = shutdownTimeout;
    b.flushGroups = flushGroups;
    b.flushSchedule = flushSchedule;
    b.ledgerRetention = ledgerRetention;
    b.ledgerPruneSchedule = ledgerPruneSchedule;
    b.deadLetterCheckSchedule = deadLetterCheckSchedule;
    b.logFormat = logFormat;
    b.logLevel = logLevel;
    return b;
  }

  /** Parses the {@code worker:} section (may be missing). */
  public static WorkerSettings parse(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return defaults();
    }
    ConfigNodes.checkKeys(
        node,
        "worker",
        Set.of(
            "http",
            "cluster",
            "cluster-checkin-interval",
            "instance-id",
            "threads",
            "shutdown-timeout",
            "flush",
            "ledger",
            "dead-letters",
            "log"));
    ConfigNodes.checkKeys(node.path("http"), "worker.http", Set.of("bind", "port"));
    ConfigNodes.checkKeys(node.path("flush"), "worker.flush", Set.of("groups", "schedule"));
    ConfigNodes.checkKeys(
        node.path("ledger"), "worker.ledger", Set.of("retention", "prune-schedule"));
    ConfigNodes.checkKeys(
        node.path("dead-letters"), "worker.dead-letters", Set.of("check-schedule"));
    ConfigNodes.checkKeys(node.path("log"), "worker.log", Set.of("format", "level"));
    Builder b = builder();
    ConfigNodes.str(node, "http.bind", "worker.http.bind").ifPresent(b::httpBind);
    ConfigNodes.integer(node, "http.port", "worker.http.port").ifPresent(b::httpPort);
    ConfigNodes.bool(node, "cluster", "worker.cluster").ifPresent(b::cluster);
    ConfigNodes.duration(node, "cluster-checkin-interval", "worker.cluster-checkin-interval")
        .ifPresent(b::clusterCheckinInterval);
    ConfigNodes.str(node, "instance-id", "worker.instance-id").ifPresent(b::instanceId);
    ConfigNodes.integer(node, "threads", "worker.threads").ifPresent(b::threads);
    ConfigNodes.duration(node, "shutdown-timeout", "worker.shutdown-timeout")
        .ifPresent(b::shutdownTimeout);
    ConfigNodes.integer(node, "flush.groups", "worker.flush.groups").ifPresent(b::flushGroups);
    ConfigNodes.str(node, "flush.schedule", "worker.flush.schedule").ifPresent(b::flushSchedule);
    ConfigNodes.duration(node, "ledger.retention", "worker.ledger.retention")
        .ifPresent(b::ledgerRetention);
    ConfigNodes.str(node, "ledger.prune-schedule", "worker.ledger.prune-schedule")
        .ifPresent(b::ledgerPruneSchedule);
    ConfigNodes.str(node, "dead-letters.check-schedule", "worker.dead-letters.check-schedule")
        .ifPresent(b::deadLetterCheckSchedule);
    ConfigNodes.str(node, "log.format", "worker.log.format")
        .ifPresent(
            v -> b.logFormat(ConfigNodes.enumValue("worker.log.format", v, LogFormat.class)));
    ConfigNodes.str(node, "log.level", "worker.log.level").ifPresent(b::logLevel);
    return b.build();
  }

  /**
   * Checks that {@code text} is an interval between {@code min} and {@code max} or a valid Quartz
   * cron expression.
   */
  static void requireSchedule(String key, String text, Duration min, Duration max) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(key + " must be set");
    }
    Duration interval = null;
    try {
      interval = Durations.parse(key, text);
    } catch (ConfigException notAnInterval) {
      if (!CronExpression.isValidExpression(text.trim())) {
        throw new ConfigException(
            key
                + " must be an interval like 30s or 1h, or a Quartz cron expression like"
                + " \"0 17 * * * ?\" (seconds minutes hours day-of-month month day-of-week),"
                + " but was '"
                + text
                + "'");
      }
    }
    if (interval != null) {
      Checks.requireBetween(key, interval, min, max);
    }
  }

  /**
   * The {@code worker:} section, for the effective configuration ({@link
   * SpillwayConfig#effective}).
   */
  public Map<String, Object> effective() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("http", Checks.tree("bind", httpBind, "port", httpPort));
    m.put("cluster", cluster);
    if (cluster) {
      m.put("cluster-checkin-interval", Durations.format(clusterCheckinInterval));
    }
    if (instanceId != null) {
      m.put("instance-id", instanceId);
    }
    m.put("threads", threads);
    m.put("shutdown-timeout", Durations.format(shutdownTimeout));
    Map<String, Object> flush = Checks.tree("groups", flushGroups);
    if (flushSchedule != null) {
      flush.put("schedule", flushSchedule);
    }
    m.put("flush", flush);
    m.put(
        "ledger",
        Checks.tree(
            "retention", Durations.format(ledgerRetention), "prune-schedule", ledgerPruneSchedule));
    m.put("dead-letters", Checks.tree("check-schedule", deadLetterCheckSchedule));
    m.put(
        "log", Checks.tree("format", logFormat.name().toLowerCase(Locale.ROOT), "level", logLevel));
    return m;
  }

  /** The section's effective values as logfmt, keys relative to {@code worker.}. */
  @Override
  public String toString() {
    return Logfmt.pairs(effective());
  }

  /** Mutable builder; the record's constructor checks every value. */
  public static final class Builder {
    private String httpBind = DEFAULT_HTTP_BIND;
    private int httpPort = DEFAULT_HTTP_PORT;
    private boolean cluster;
    private Duration clusterCheckinInterval = DEFAULT_CLUSTER_CHECKIN_INTERVAL;
    private String instanceId;
    private int threads = DEFAULT_THREADS;
    private Duration shutdownTimeout = DEFAULT_SHUTDOWN_TIMEOUT;
    private int flushGroups = DEFAULT_FLUSH_GROUPS;
    private String flushSchedule;
    private Duration ledgerRetention = DEFAULT_LEDGER_RETENTION;
    private String ledgerPruneSchedule = DEFAULT_LEDGER_PRUNE_SCHEDULE;
    private String deadLetterCheckSchedule = DEFAULT_DEAD_LETTER_CHECK_SCHEDULE;
    private LogFormat logFormat = LogFormat.KEYVALUE;
    private String logLevel = "INFO";

    private Builder() {}

    public Builder httpBind(String v) {
      this.httpBind = v;
      return this;
    }

    public Builder httpPort(int v) {
      this.httpPort = v;
      return this;
    }

    public Builder cluster(boolean v) {
      this.cluster = v;
      return this;
    }

    public Builder clusterCheckinInterval(Duration v) {
      this.clusterCheckinInterval = v;
      return this;
    }

    public Builder instanceId(String v) {
      this.instanceId = v;
      return this;
    }

    public Builder threads(int v) {
      this.threads = v;
      return this;
    }

    public Builder shutdownTimeout(Duration v) {
      this.shutdownTimeout = v;
      return this;
    }

    public Builder flushGroups(int v) {
      this.flushGroups = v;
      return this;
    }

    public Builder flushSchedule(String v) {
      this.flushSchedule = v;
      return this;
    }

    public Builder ledgerRetention(Duration v) {
      this.ledgerRetention = v;
      return this;
    }

    public Builder ledgerPruneSchedule(String v) {
      this.ledgerPruneSchedule = v;
      return this;
    }

    public Builder deadLetterCheckSchedule(String v) {
      this.deadLetterCheckSchedule = v;
      return this;
    }

    public Builder logFormat(LogFormat v) {
      this.logFormat = v;
      return this;
    }

    public Builder logLevel(String v) {
      this.logLevel = v;
      return this;
    }

    public WorkerSettings build() {
      return new WorkerSettings(
          httpBind,
          httpPort,
          cluster,
          clusterCheckinInterval,
          instanceId,
          threads,
          shutdownTimeout,
          flushGroups,
          flushSchedule,
          ledgerRetention,
          ledgerPruneSchedule,
          deadLetterCheckSchedule,
          logFormat,
          logLevel);
    }
  }
}
