package dev.spillway.testing;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import redis.embedded.core.ExecutableProvider;

/**
 * What {@link RedisServerProcess} and {@link ClusterNodeProcess} share: finding, stopping, cleaning
 * up.
 */
final class RedisProcesses {
  static final byte[] SHUTDOWN_NOSAVE =
      "*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);

  private RedisProcesses() {}

  /** Asks the server on {@code port} for {@code SHUTDOWN NOSAVE}, then reaps {@code process}. */
  static void shutdownNoSave(Process process, int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
      OutputStream out = socket.getOutputStream();
      out.write(SHUTDOWN_NOSAVE);
      out.flush();
      socket.setSoTimeout(1000);
      socket.getInputStream().read(); // the server closes the connection as it exits
    } catch (IOException e) {
      // Not answering already; the signals below still end the process.
    }
    reap(process);
  }

  static String executable(Path folder) {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        Path candidate = Path.of(dir, "redis-server");
        if (Files.isExecutable(candidate)) {
          return candidate.toString();
        }
      }
    }
    try {
      return ExecutableProvider.newJarResourceProvider(folder.toFile()).get().getPath();
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          "No redis-server on PATH and the bundled one is unavailable: " + e.getMessage(), e);
    }
  }

  static void reap(Process process) {
    try {
      if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroy();
        if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly().waitFor();
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  static void deleteFolder(Path folder) {
    try (Stream<Path> paths = Files.walk(folder)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      // A leftover log in the temp folder is harmless.
    }
  }
}
