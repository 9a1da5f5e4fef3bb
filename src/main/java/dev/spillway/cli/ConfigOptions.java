package dev.spillway.cli;

import ch.qos.logback.classic.Level;
import dev.spillway.ConfigLoader;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import java.nio.file.Path;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** Options every command shares: where the configuration comes from, and how chatty to be. */
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

  SpillwayConfig load() {
    if (!verbose) {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("dev.spillway")).setLevel(Level.WARN);
    }
    return ConfigLoader.load(config, System.getenv());
  }

  Spillway open() {
    return Spillway.builder().config(load()).build();
  }
}
