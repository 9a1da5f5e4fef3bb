package dev.spillway.api;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * nginx from Debian's package as a CDN stand-in, owned by one test: its own prefix, config, cache
 * and logs in a temporary folder, listening on a spare loopback port, in the foreground ({@code
 * daemon off}) so that {@link #close()} stops it and its worker. Tests skip (JUnit assumption)
 * where nginx is not installed ({@link #find()}).
 */
final class NginxProcess implements AutoCloseable {
  private final Process process;
  private final Path dir;
  final int port;

  private NginxProcess(Process process, Path dir, int port) {
    this.process = process;
    this.dir = dir;
    this.port = port;
  }

  /** The nginx binary on PATH or in /usr/sbin, if installed. */
  static Optional<Path> find() {
    String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/usr/bin:/sbin";
    for (String d : path.split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, "nginx"))) {
        return Optional.of(Path.of(d, "nginx"));
      }
    }
    return Optional.empty();
  }

  /**
   * Starts nginx caching {@code 127.0.0.1:upstreamPort} as a CDN would: {@code proxy_cache} keyed
   * by URI, {@code proxy_cache_revalidate on} (conditional requests to the origin once an entry
   * expired), {@code proxy_cache_use_stale updating error timeout} (a stale entry while the origin
   * is away). Every answer carries {@code X-Cache-Status}.
   */
  static NginxProcess start(Path nginx, Path dir, int upstreamPort) throws IOException {
    int port = freePort();
    Files.createDirectories(dir.resolve("cache"));
    Files.createDirectories(dir.resolve("tmp"));
    Files.createDirectories(dir.resolve("logs"));
    String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
    String conf =
        user
            + """
            daemon off;
            worker_processes 1;
            pid %1$s/nginx.pid;
            error_log %1$s/logs/error.log info;
            events { worker_connections 256; }
            http {
              access_log %1$s/logs/access.log;
              client_body_temp_path %1$s/tmp/body;
              proxy_temp_path %1$s/tmp/proxy;
              fastcgi_temp_path %1$s/tmp/fastcgi;
              uwsgi_temp_path %1$s/tmp/uwsgi;
              scgi_temp_path %1$s/tmp/scgi;
              proxy_cache_path %1$s/cache levels=1 keys_zone=api:1m max_size=16m inactive=10m use_temp_path=off;
              server {
                listen 127.0.0.1:%2$d;
                location / {
                  proxy_pass http://127.0.0.1:%3$d;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_connect_timeout 2s;
                  proxy_cache api;
                  proxy_cache_revalidate on;
                  proxy_cache_use_stale updating error timeout;
                  add_header X-Cache-Status $upstream_cache_status always;
                }
              }
            }
            """
                .formatted(dir, port, upstreamPort);
    Path confFile = dir.resolve("nginx.conf");
    Files.writeString(confFile, conf);
    Process p =
        new ProcessBuilder(
                List.of(
                    nginx.toString(),
                    "-p",
                    dir.toString(),
                    "-c",
                    confFile.toString(),
                    "-e",
                    dir.resolve("logs/startup.log").toString()))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("logs/stdout.log").toFile())
            .start();
    NginxProcess n = new NginxProcess(p, dir, port);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!answers(port)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        String log = n.log();
        n.close();
        throw new AssertionError("nginx did not start:\n" + log);
      }
      sleep(50);
    }
    return n;
  }

  /** nginx's own logs, for a failure message. */
  String log() {
    StringBuilder b = new StringBuilder();
    for (String f : List.of("logs/startup.log", "logs/stdout.log", "logs/error.log")) {
      try {
        b.append("== ").append(f).append('\n').append(Files.readString(dir.resolve(f)));
      } catch (IOException e) {
        b.append("== ").append(f).append(": ").append(e).append('\n');
      }
    }
    return b.toString();
  }

  private static boolean answers(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** SIGTERM (nginx's fast shutdown), then SIGKILL to anything left. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process.descendants().forEach(ProcessHandle::destroyForcibly);
  }
}
