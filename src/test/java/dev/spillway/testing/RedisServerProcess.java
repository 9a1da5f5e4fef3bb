package dev.spillway.testing;

import dev.spillway.embedded.LocalServices;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A private {@code redis-server} child process on a free loopback port, for tests that stop, kill
 * or restart Redis and so must not share the suite's server.
 *
 * <p>The binary is {@code redis-server} from {@code PATH}, or else the one bundled in {@code
 * embedded-redis}. It always runs with {@code --save "" --appendonly no --bind 127.0.0.1 --port N
 * --daemonize no}, so a restart starts empty: exactly what a Redis crash without persistence does.
 * Output goes to a log file in a temporary folder; a failed start quotes its end. {@link #close()}
 * stops the server and deletes the folder.
 */
public final class RedisServerProcess implements AutoCloseable {

  private static final Duration START_TIMEOUT = Duration.ofSeconds(10);

  private final String executable;
  private final Path folder;
  private final Path log;
  private final int port;
  private final List<String> extraArgs;
  private Process process; // guarded by this

  private RedisServerProcess(String executable, Path folder, int port, List<String> extraArgs) {
    this.executable = executable;
    this.folder = folder;
    this.log = folder.resolve("redis-server.log");
    this.port = port;
    this.extraArgs = extraArgs;
  }

  /** Starts a server with the default arguments only. */
  public static RedisServerProcess start() {
    return start(new String[0]);
  }

  /**
   * Starts a server; {@code extraArgs} come after the defaults, so they can override them (for
   * example {@code "--maxmemory", "1mb"}).
   *
   * @throws IllegalStateException if it does not answer PING within 10 s
   */
  public static RedisServerProcess start(String... extraArgs) {
    Path folder;
    try {
      folder = Files.createTempDirectory("spillway-redis-test-");
    } catch (IOException e) {
      throw new IllegalStateException("Could not create a folder for redis-server", e);
    }
    String executable = RedisProcesses.executable(folder);
    IllegalStateException last = null;
    // A free port can be taken before redis-server binds it; another port almost always works.
    for (int attempt = 0; attempt < 3; attempt++) {
      var server = new RedisServerProcess(executable, folder, freePort(), List.of(extraArgs));
      try {
        server.launch();
        return server;
      } catch (IllegalStateException e) {
        last = e;
      }
    }
    RedisProcesses.deleteFolder(folder);
    throw last;
  }

  public int port() {
    return port;
  }

  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  public synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Asks for {@code SHUTDOWN NOSAVE}, then terminates and finally kills; returns once reaped. */
  public synchronized void stop() {
    if (process == null) {
      return;
    }
    RedisProcesses.shutdownNoSave(process, port);
    process = null;
  }

  /** Kills the server with SIGKILL, like a crash: no shutdown, no goodbye to clients. */
  public synchronized void kill() {
    if (process != null) {
      process.destroyForcibly();
      RedisProcesses.reap(process);
      process = null;
    }
  }

  /** Stops the server if it runs and starts a fresh, empty one on the same port. */
  public synchronized void restart() {
    stop();
    launch();
  }

  @Override
  public void close() {
    stop();
    RedisProcesses.deleteFolder(folder);
  }

  private synchronized void launch() {
    List<String> command = new ArrayList<>();
    command.add(executable);
    command.addAll(List.of("--save", "", "--appendonly", "no", "--bind", "127.0.0.1"));
    command.addAll(List.of("--port", Integer.toString(port), "--daemonize", "no"));
    command.addAll(List.of("--dir", folder.toString()));
    command.addAll(extraArgs);
    try {
      process =
          new ProcessBuilder(command)
              .directory(folder.toFile())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
    } catch (IOException e) {
      throw new IllegalStateException("Could not run " + executable + ": " + e.getMessage(), e);
    }
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (process.isAlive() && System.nanoTime() < deadline) {
      if (LocalServices.redisAnswers(uri(), Duration.ofMillis(500))) {
        return;
      }
      sleep(Duration.ofMillis(20));
    }
    process.destroyForcibly();
    RedisProcesses.reap(process);
    process = null;
    throw new IllegalStateException(
        "redis-server did not answer PING on port "
            + port
            + " within 10 s; its log:\n"
            + readLog());
  }

  private String readLog() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log at " + log + ")";
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException("Could not find a free loopback port", e);
    }
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for redis-server", e);
    }
  }
}
