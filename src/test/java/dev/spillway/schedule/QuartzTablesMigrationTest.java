package dev.spillway.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.quartz.Scheduler;

/** Migration V2 is Quartz's own PostgreSQL DDL from the jar, schema-qualified and nothing else. */
class QuartzTablesMigrationTest {

  @Test
  void v2_matchesTheDdlShippedInTheQuartzJar() throws Exception {
    String jar;
    try (InputStream in =
        Scheduler.class.getResourceAsStream("/org/quartz/impl/jdbcjobstore/tables_postgres.sql")) {
      assertThat(in).as("tables_postgres.sql in the quartz jar").isNotNull();
      jar = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    String migration = Files.readString(Path.of("migrations/V2__quartz_tables.sql"));

    String fromJar =
        normalize(
            jar.lines()
                .filter(l -> !l.startsWith("DROP TABLE") && !l.strip().equals("COMMIT;"))
                .reduce("", (a, b) -> a + "\n" + b));
    String fromMigration = normalize(migration.replace("${schema}.", ""));

    assertThat(fromMigration).isEqualTo(fromJar);
    assertThat(migration).contains("CREATE TABLE ${schema}.qrtz_locks");
  }

  private static String normalize(String sql) {
    return sql.lines()
        .filter(l -> !l.strip().startsWith("--"))
        .reduce("", (a, b) -> a + " " + b)
        .toLowerCase(Locale.ROOT)
        .replaceAll("\\s+", " ")
        .strip();
  }
}
