package dev.spillway;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Set;

/**
 * Settings of the standalone worker process (section {@code worker:} of the YAML file). Ignored
 * by an embedded client.
 */
public record WorkerSettings(String httpBind, int httpPort, boolean cluster, Duration shutdownTimeout) {
  public static final String DEFAULT_HTTP_BIND = "127.0.0.1";
  public static final int DEFAULT_HTTP_PORT = 9464;
  public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

  public WorkerSettings {
    SpillwayConfig.requireRange("worker.http.port", httpPort, 0, 65535);
    SpillwayConfig.requireAtLeast("worker.shutdown-timeout", shutdownTimeout, Duration.ZERO);
  }

  public static WorkerSettings defaults() {
    return new WorkerSettings(DEFAULT_HTTP_BIND, DEFAULT_HTTP_PORT, false, DEFAULT_SHUTDOWN_TIMEOUT);
  }

  /** Parses the {@code worker:} section (may be missing). */
  public static WorkerSettings parse(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return defaults();
    }
    ConfigNodes.checkKeys(node, "worker", Set.of("http", "cluster", "shutdown-timeout"));
    ConfigNodes.checkKeys(node.path("http"), "worker.http", Set.of("bind", "port"));
    return new WorkerSettings(
        ConfigNodes.str(node, "http.bind", "worker.http.bind").orElse(DEFAULT_HTTP_BIND),
        ConfigNodes.integer(node, "http.port", "worker.http.port").orElse(DEFAULT_HTTP_PORT),
        ConfigNodes.bool(node, "cluster", "worker.cluster").orElse(false),
        ConfigNodes.duration(node, "shutdown-timeout", "worker.shutdown-timeout")
            .orElse(DEFAULT_SHUTDOWN_TIMEOUT));
  }
}
