package dev.spillway.cli;

import ch.qos.logback.classic.Level;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import dev.spillway.config.Redactor;
import dev.spillway.worker.LogRedaction;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * Options every command shares: where the configuration comes from, and how chatty to be. Also
 * keeps the {@link Redactor} for what the command prints: the environment's secrets from the start,
 * the configuration's once it is loaded (and installs it for log lines too).
 */
final class ConfigOptions {
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description = "YAML configuration file (default: none; built-in defaults plus environment)")
  Path config;

  @Option(
      names = {"-v", "--verbose"},
      description = "Log progress (INFO) to stderr")
  boolean verbose;

  private Redactor redactor;

  /**
   * A one-shot command reports an unreachable PostgreSQL within this, whatever {@code
   * postgres.connect-timeout} says: an operator at a prompt would rather hear it at once.
   */
  static final Duration ONE_SHOT_CONNECT_TIMEOUT = Duration.ofSeconds(3);

  /** The configuration as written; for the long-running worker and the diagnostics. */
  SpillwayConfig load() {
    if (!verbose) {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("dev.spillway"))
          .setLevel(Level.WARN);
    }
    Map<String, String> env = System.getenv();
    redactor = Redactor.ofEnvironment(env);
    LogRedaction.install(redactor);
    SpillwayConfig loaded = ConfigLoader.load(config, env);
    redactor = Redactor.of(loaded, env);
    LogRedaction.install(redactor);
    return loaded;
  }

  /** Hides the secrets known so far: the configuration's once {@link #load} succeeded. */
  Redactor redactor() {
    return redactor != null ? redactor : Redactor.ofEnvironment(System.getenv());
  }

  /** The configuration of a one-shot command: {@code postgres.connect-timeout} at most 3s. */
  SpillwayConfig loadOneShot() {
    SpillwayConfig c = load();
    return c.postgresConnectTimeout().compareTo(ONE_SHOT_CONNECT_TIMEOUT) <= 0
        ? c
        : c.toBuilder().postgresConnectTimeout(ONE_SHOT_CONNECT_TIMEOUT).build();
  }

  /** A runtime that needs PostgreSQL (migrated at build; unreachable: one sentence, exit 1). */
  Spillway open() {
    return open(loadOneShot());
  }

  Spillway open(SpillwayConfig c) {
    return Spillway.builder().config(c).build();
  }

  /** A runtime that needs only Redis: PostgreSQL is neither migrated nor connected at build. */
  Spillway openRedisOnly(SpillwayConfig c) {
    return Spillway.builder().config(c).requirePostgres(false).build();
  }
}
