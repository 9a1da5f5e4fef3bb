package dev.spillway.worker;

import dev.spillway.testing.TestEnv;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code spillway} command in a child JVM, as an operator runs it: {@code java -jar <jar> ...}
 * when the system property {@code spillway.jar} names the packaged jar (e.g. {@code
 * -Dspillway.jar=/tmp/build-worker/spillway.jar} after {@code mvn package}), otherwise {@code java
 * -cp <test class path> dev.spillway.cli.Main ...} (what {@code mvn test} can offer before the jar
 * exists). Standard output and error go to a temporary file. The child's environment keeps no
 * inherited {@code SPILLWAY_*} variable: only those the test passes.
 *
 * <p>{@link #terminate()} sends SIGTERM (what systemd sends), {@link #kill()} SIGKILL; {@link
 * #close()} kills a child still running and deletes the output file.
 */
public final class WorkerProcess implements AutoCloseable {
  /**
   * JUnit resource lock for test classes that start worker JVMs: one such class at a time, so a
   * 2-core machine is not asked to boot seven JVMs at once (other test classes still run beside).
   */
  public static final String CHILD_JVMS = "spillway-child-jvms";

  /**
   * How long a worker may take to boot and answer. It takes 3 to 10 s on a quiet 2-core machine;
   * the margin is for a machine shared with other test runs, where a JVM starts many times slower.
   */
  public static final Duration START_TIMEOUT = Duration.ofSeconds(120);

  private static final Pattern LISTENING =
      Pattern.compile("event=http_listening address=([^ :]+):(\\d+)");
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final Process process;
  private final Path output;
  private volatile int port = -1;

  private WorkerProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
  }

  /** Environment that points a child at the test class's schema and key prefix. */
  public static Map<String, String> env(TestEnv env) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("SPILLWAY_REDIS_URI", env.redisUri());
    m.put("SPILLWAY_REDIS_CLUSTER", Boolean.toString(env.redisCluster()));
    m.put("SPILLWAY_JDBC_URL", env.jdbcUrl());
    m.put("SPILLWAY_JDBC_USER", env.jdbcUser());
    m.put("SPILLWAY_JDBC_PASSWORD", env.jdbcPassword() == null ? "" : env.jdbcPassword());
    m.put("SPILLWAY_SCHEMA", env.schema());
    m.put("SPILLWAY_KEY_PREFIX", env.keyPrefix());
    return m;
  }

  /** Writes {@code yaml} to a temporary file and returns its path. */
  public static Path config(String yaml) {
    try {
      Path p = Files.createTempFile("spillway-test-", ".yaml");
      p.toFile().deleteOnExit();
      return Files.writeString(p, yaml);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Starts {@code spillway <args>} with {@code env} added to a SPILLWAY_-free environment. */
  public static WorkerProcess start(Map<String, String> env, String... args) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // C1 only: a child JVM spends far less CPU compiling at start, which matters on 2 cores.
    List<String> command =
        new ArrayList<>(List.of(java, "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    String jar = System.getProperty("spillway.jar");
    if (jar != null && !jar.isBlank()) {
      command.addAll(List.of("-jar", jar));
    } else {
      command.addAll(
          List.of("-cp", System.getProperty("java.class.path"), "dev.spillway.cli.Main"));
    }
    command.addAll(List.of(args));
    try {
      Path out = Files.createTempFile("spillway-worker-", ".log");
      ProcessBuilder pb =
          new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().keySet().removeIf(k -> k.startsWith("SPILLWAY_"));
      pb.environment().putAll(env);
      return new WorkerProcess(pb.start(), out);
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + command, e);
    }
  }

  /** Runs a command to its end (killed past {@code timeout}); returns exit code and output. */
  public static Result run(Duration timeout, Map<String, String> env, String... args) {
    try (WorkerProcess p = start(env, args)) {
      Integer code = p.awaitExit(timeout);
      return new Result(code == null ? -1 : code, p.output());
    }
  }

  /** How a command ended: exit code (-1 when it had to be killed) and everything it printed. */
  public record Result(int exitCode, String output) {}

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public String output() {
    try {
      return Files.readString(output);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Waits until the worker logs its HTTP address; fails with the output if it dies first. */
  public int awaitPort(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      Matcher m = LISTENING.matcher(output());
      if (m.find()) {
        port = Integer.parseInt(m.group(2));
        return port;
      }
      if (!process.isAlive()) {
        throw new AssertionError("worker exited with " + process.exitValue() + ":\n" + output());
      }
      sleep(50);
    }
    throw new AssertionError(
        "worker did not log its HTTP address within " + timeout + ":\n" + output());
  }

  /** GET on the worker's endpoint: status and body (status -1 when nothing answers). */
  public HttpResult get(String path) {
    if (port < 0) {
      throw new IllegalStateException("awaitPort first");
    }
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                  .timeout(Duration.ofSeconds(5))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return new HttpResult(r.statusCode(), r.body());
    } catch (IOException e) {
      return new HttpResult(-1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new HttpResult(-1, "interrupted");
    }
  }

  /** An HTTP answer. */
  public record HttpResult(int status, String body) {}

  /** Polls {@code path} until it answers {@code status}; returns the last answer. */
  public HttpResult awaitStatus(String path, int status, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    HttpResult last;
    do {
      last = get(path);
      if (last.status() == status) {
        return last;
      }
      if (!process.isAlive()) {
        throw new AssertionError("worker exited with " + process.exitValue() + ":\n" + output());
      }
      sleep(100);
    } while (System.nanoTime() < deadline);
    throw new AssertionError(
        path
            + " did not answer "
            + status
            + " within "
            + timeout
            + "; last: "
            + last
            + "\nworker output:\n"
            + tail(output(), 4000));
  }

  /** SIGTERM. */
  public void terminate() {
    process.destroy();
  }

  /** SIGKILL, and waits until the child is reaped. */
  public void kill() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The exit code, or null if the child still runs after {@code timeout}. */
  public Integer awaitExit(Duration timeout) {
    try {
      if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        return process.exitValue();
      }
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
    }
    try {
      Files.deleteIfExists(output);
    } catch (IOException e) {
      // a leftover log in the temp folder is harmless
    }
  }

  static String tail(String s, int n) {
    return s.length() <= n ? s : "..." + s.substring(s.length() - n);
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
