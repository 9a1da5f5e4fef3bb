package dev.spillway.cli;

import dev.spillway.SpillwayConfig;
import dev.spillway.store.Database;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(
    name = "migrate",
    mixinStandardHelpOptions = true,
    description = "Create or upgrade Spillway's tables in PostgreSQL (schema postgres.schema).",
    footer = {"", "Example:", "  SPILLWAY_JDBC_URL=jdbc:postgresql://db:5432/app spillway migrate"})
final class MigrateCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Override
  public Integer call() {
    SpillwayConfig c = options.loadOneShot();
    try (Database db = Database.open(c)) {
      int n = db.migrate();
      System.out.println(
          n == 0
              ? "schema " + c.schema() + " is up to date"
              : "applied " + n + " migration(s) to schema " + c.schema());
    }
    return 0;
  }
}
