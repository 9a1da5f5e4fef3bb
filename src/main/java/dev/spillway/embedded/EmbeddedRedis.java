package dev.spillway.embedded;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import redis.embedded.RedisServer;
import redis.embedded.core.ExecutableProvider;

/**
 * A Redis server started for this JVM on a free loopback port, with no persistence.
 *
 * <p>First choice is the binary shipped inside {@code com.github.codemonstur:embedded-redis} (Redis
 * 6.2); where that binary cannot run (an unsupported platform, a missing shared library), {@code
 * redis-server} from {@code PATH} is started as a child process instead. Either way the server
 * binds to 127.0.0.1 only and writes nothing but its working files into {@code dir}.
 *
 * <p>Hazard: the codemonstur library registers its own JVM shutdown hook per start, which cannot be
 * removed; {@link #close()} makes that hook a no-op.
 */
final class EmbeddedRedis implements AutoCloseable {

  private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);
  private static final int PORT_ATTEMPTS = 3;

  private final int port;
  private final String origin;
  private final RedisServer library; // set when the bundled binary runs
  private final Process child; // set when redis-server from PATH runs

  private EmbeddedRedis(int port, String origin, RedisServer library, Process child) {
    this.port = port;
    this.origin = origin;
    this.library = library;
    this.child = child;
  }

  /**
   * Starts a server, trying the bundled binary and then {@code redis-server} on {@code PATH}.
   *
   * @throws IllegalStateException if neither starts; the message carries both causes
   */
  static EmbeddedRedis start(Path dir) {
    IOException bundledFailure;
    try {
      return startBundled(dir);
    } catch (IOException | RuntimeException e) {
      bundledFailure = e instanceof IOException io ? io : new IOException(e);
    }
    try {
      return startFromPath(dir);
    } catch (IOException e) {
      var failure =
          new IllegalStateException(
              "Could not start an embedded Redis: the bundled binary failed ("
                  + bundledFailure.getMessage()
                  + ") and so did redis-server from PATH ("
                  + e.getMessage()
                  + ")",
              e);
      failure.addSuppressed(bundledFailure);
      throw failure;
    }
  }

  int port() {
    return port;
  }

  String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Which binary runs, for the one log line that says what was started. */
  String origin() {
    return origin;
  }

  @Override
  public void close() {
    if (library != null) {
      try {
        library.stop();
      } catch (IOException e) {
        // Stopping is best effort: the process is ours and dies with the JVM at the latest.
      }
    }
    if (child != null) {
      stopChild(child);
    }
  }

  private static EmbeddedRedis startBundled(Path dir) throws IOException {
    File binary = ExecutableProvider.newJarResourceProvider(dir.toFile()).get();
    IOException last = null;
    // A free port can be taken between probing and binding; a fresh one almost always works.
    for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      int port = Local.freePort();
      RedisServer server = new RedisServer(port, arguments(binary.getPath(), port, dir), false);
      try {
        server.start();
        return new EmbeddedRedis(port, "bundled redis-server 6.2 (embedded-redis)", server, null);
      } catch (IOException e) {
        last = e;
      }
    }
    throw last;
  }

  private static EmbeddedRedis startFromPath(Path dir) throws IOException {
    Path log = dir.resolve("redis-server.log");
    IOException last = null;
    for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      int port = Local.freePort();
      Process process =
          new ProcessBuilder(arguments("redis-server", port, dir))
              .directory(dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
      String uri = "redis://127.0.0.1:" + port;
      long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
      while (process.isAlive()
          && System.nanoTime() < deadline
          && !Thread.currentThread().isInterrupted()) {
        if (LocalServices.redisAnswers(uri, Duration.ofMillis(500))) {
          return new EmbeddedRedis(port, "redis-server from PATH", null, process);
        }
        sleep(Duration.ofMillis(50));
      }
      stopChild(process);
      last =
          new IOException(
              "redis-server on port "
                  + port
                  + " did not answer PING; its log: "
                  + Local.tail(log, 5));
    }
    throw last;
  }

  private static List<String> arguments(String binary, int port, Path dir) {
    List<String> args = new ArrayList<>();
    args.add(binary);
    args.addAll(List.of("--port", Integer.toString(port), "--bind", "127.0.0.1"));
    // No RDB snapshots and no AOF: the data is throwaway and must not outlive the temp folder.
    args.addAll(List.of("--save", "", "--appendonly", "no", "--dir", dir.toString()));
    return args;
  }

  private static void stopChild(Process process) {
    process.destroy();
    try {
      if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
