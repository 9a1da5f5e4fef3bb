package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** `spillway demo` end to end, as `make run` runs it (shortened). */
@ExtendWith(ServicesExtension.class)
class DemoTest {
  @TempDir Path dir;

  @Test
  void demo_printsProgressExactCheckAndTopTen(TestEnv env) throws Exception {
    Path config = dir.resolve("spillway.yaml");
    Files.writeString(
        config,
        "redis:\n  uri: %s\npostgres:\n  jdbc-url: %s\n  user: %s\n"
            .formatted(env.redisUri(), env.jdbcUrl(), env.jdbcUser()));
    JvmProcess.Result r =
        JvmProcess.run(
            Main.class,
            Duration.ofSeconds(120),
            "demo",
            "--duration",
            "3s",
            "--threads",
            "1",
            "--pages",
            "500",
            "--config",
            config.toString());
    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(r.output())
        .contains("incr/s")
        .contains("cells pending in Redis")
        .containsPattern("PostgreSQL holds [0-9,]+: exact")
        .contains("Top 10 pages")
        .containsPattern("\\n\\s+1\\s+1\\s+[0-9,]+\\n");
  }
}
