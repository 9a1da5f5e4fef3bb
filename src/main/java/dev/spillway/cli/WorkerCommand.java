package dev.spillway.cli;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.WorkerSettings;
import dev.spillway.report.ReportJobs;
import dev.spillway.schedule.ScheduledTask;
import dev.spillway.worker.LogSetup;
import dev.spillway.worker.Worker;
import java.time.InstantSource;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    description = {
      "Run the standalone worker: flush Redis into PostgreSQL on schedule (one job per stripe"
          + " group), run the adopt mappings, prune the ledger, watch dead letters, and serve"
          + " /metrics, /health/live and /health/ready (default 127.0.0.1:9464).",
      "",
      "With worker.cluster: true, every worker on the same PostgreSQL schema shares the jobs"
          + " (Quartz JDBC job store); a worker that dies has its jobs taken over.",
      "On SIGTERM or Ctrl-C: readiness turns 503, running jobs get worker.shutdown-timeout to"
          + " finish, exit 0. Batches that cannot finish stay pending in Redis and are applied,"
          + " exactly once, by the next flush run. Logs go to stderr, one line per event"
          + " (worker.log.format)."
    },
    footer = {
      "",
      "Examples:",
      "  spillway worker --config /etc/spillway/spillway.yaml",
      "  SPILLWAY_JDBC_PASSWORD=... spillway worker --config spillway.yaml --http-port 9465",
      "  curl -s 127.0.0.1:9464/health/ready",
      "",
      "See ops/ for a systemd unit, Prometheus alerts and a Grafana dashboard."
    })
final class WorkerCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(
      names = "--http-port",
      paramLabel = "PORT",
      description = "Override worker.http.port (0: any free port; the log names it)")
  Integer httpPort;

  @Option(
      names = "--http-bind",
      paramLabel = "ADDRESS",
      description = "Override worker.http.bind (default 127.0.0.1; the endpoint has no auth)")
  String httpBind;

  @Override
  public Integer call() throws InterruptedException {
    if (httpPort != null && (httpPort < 0 || httpPort > 65535)) {
      throw new IllegalArgumentException(
          "--http-port must be between 0 and 65535 but was " + httpPort);
    }
    SpillwayConfig config = options.load();
    WorkerSettings ws = config.worker();
    LogSetup.apply(ws.logFormat(), options.verbose ? "DEBUG" : ws.logLevel());
    Worker.Builder b = Worker.builder(config);
    if (httpPort != null) {
      b.httpPort(httpPort);
    }
    if (httpBind != null) {
      b.httpBind(httpBind);
    }
    // Reporting upkeep and exports (partition upkeep, rollup, retention, scheduled exports).
    b.extraTasks(
        sw ->
            ReportJobs.of(sw.dataSource(), sw.config(), InstantSource.system()).stream()
                .map(j -> ScheduledTask.cron(j.name(), j.cron(), j.body()))
                .toList());
    return b.start().awaitStop();
  }
}
