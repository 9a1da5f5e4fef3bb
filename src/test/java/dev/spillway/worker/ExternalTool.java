package dev.spillway.worker;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A program outside the JVM that checks an ops file (promtool, systemd-analyze): where it is, and
 * one run of it with its exit code and everything it printed. Tests that need one skip (JUnit
 * assumption) where it is not installed.
 */
final class ExternalTool {
  private ExternalTool() {}

  /** The program {@code name} on PATH (or in /usr/bin, /usr/sbin), if installed. */
  static Optional<Path> find(String name) {
    String path = System.getenv().getOrDefault("PATH", "") + ":/usr/bin:/usr/sbin:/bin";
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return Optional.of(Path.of(dir, name));
      }
    }
    return Optional.empty();
  }

  /** How a run ended: exit code (-1 when killed past its timeout) and stdout plus stderr. */
  record Result(int exitCode, String output) {}

  /** Runs {@code command} with {@code env} added, {@code stdin} (may be null) as its input. */
  static Result run(Duration timeout, Map<String, String> env, String stdin, List<String> command)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("spillway-tool-", ".out");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      try (OutputStream in = p.getOutputStream()) {
        if (stdin != null) {
          in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
      }
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly().waitFor();
        return new Result(-1, Files.readString(out));
      }
      return new Result(p.exitValue(), Files.readString(out));
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
