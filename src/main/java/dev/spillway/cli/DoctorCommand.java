package dev.spillway.cli;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.Redactor;
import dev.spillway.worker.Doctor;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(
    name = "doctor",
    mixinStandardHelpOptions = true,
    description = {
      "Check the deployment and explain: one line per check, OK, WARN or FAIL, with the fix.",
      "Redis version (>= 6.2), maxmemory-policy (noeviction), persistence (AOF everysec), stripe"
          + " encoding, pending batches vs the ledger retention; PostgreSQL version (>= 12),"
          + " migrations, dead letters waiting, Quartz cluster members; the HTTP bind address.",
      "Exits 1 when any check FAILs, 0 otherwise. Reads only; changes nothing."
    },
    footer = {
      "",
      "Examples:",
      "  spillway doctor --config /etc/spillway/spillway.yaml",
      "  SPILLWAY_REDIS_URI=redis://cache:6379 spillway doctor"
    })
final class DoctorCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Override
  public Integer call() {
    SpillwayConfig config = options.load();
    Redactor redactor = options.redactor();
    System.out.println(
        "spillway doctor: "
            + (options.config != null ? "config " + options.config : "no config file")
            + ", Redis "
            + redactor.redactUri(config.redisUri())
            + ", PostgreSQL "
            + redactor.redactUri(config.jdbcUrl())
            + " schema "
            + config.schema());
    System.out.println();
    List<Doctor.Line> lines = Doctor.run(config, InstantSource.system());
    lines.forEach(l -> System.out.println(redactor.redact(l.toString())));
    long warn = lines.stream().filter(l -> l.status() == Doctor.Status.WARN).count();
    long fail = lines.stream().filter(l -> l.status() == Doctor.Status.FAIL).count();
    System.out.println();
    System.out.println((lines.size() - warn - fail) + " OK, " + warn + " WARN, " + fail + " FAIL");
    return fail > 0 ? 1 : 0;
  }
}
