package dev.spillway.cli;

import ch.qos.logback.classic.Level;
import dev.spillway.ConfigLoader;
import dev.spillway.Redactor;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.worker.LogRedaction;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * Options every command shares: where the configuration comes from, and how chatty to be. Also
 * keeps the {@link Redactor} for what the command prints: the environment's secrets from the
 * start, the configuration's once it is loaded (and installs it for log lines too).
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

  SpillwayConfig load() {
    if (!verbose) {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("dev.spillway")).setLevel(Level.WARN);
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

  Spillway open() {
    return Spillway.builder().config(load()).build();
  }
}
