package dev.spillway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.SpillwayConfig;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LISTENs on {@value #CHANNEL} (sent by the trigger function {@code cache_invalidate()}, see
 * db/cache_invalidation_trigger.sql) and relays every notification of this deployment's schema to
 * the invalidation bus, as a full invalidation: L2 entry deleted (or tag bumped), every L1 evicted.
 * Runs on its own PostgreSQL connection (not one of the pool's), on one daemon thread.
 *
 * <p>Hazard: NOTIFY is not stored. While this connection is down, changes are not relayed; on
 * reconnecting the relay clears every L1 of the deployment (a {@code CLEAR *} on the bus), but L2
 * entries changed meanwhile stay until their TTL. Several relays (several workers) each relay every
 * notification: harmless, only repeated.
 */
final class DatabaseRelay implements AutoCloseable {
  static final String CHANNEL = "spillway_cache";
  private static final Logger log = LoggerFactory.getLogger(DatabaseRelay.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final SpillwayConfig config;
  private final CacheRuntime runtime;
  private final CacheMeters meters;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile boolean listening;
  private volatile Connection connection;

  DatabaseRelay(SpillwayConfig config, CacheRuntime runtime, CacheMeters meters) {
    this.config = config;
    this.runtime = runtime;
    this.meters = meters;
    this.thread = new Thread(this::run, "spillway-cache-relay");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Whether the LISTEN connection is up (for tests and health). */
  boolean listening() {
    return listening;
  }

  private void run() {
    try {
      listen();
    } catch (Error e) {
      runtime.failure().record(Thread.currentThread().getName(), e);
    }
  }

  private void listen() {
    boolean first = true;
    long backoff = 100;
    while (running) {
      try (Connection c = connect()) {
        connection = c;
        try (Statement st = c.createStatement()) {
          st.execute("LISTEN " + CHANNEL);
        }
        listening = true;
        backoff = 100;
        if (!first) {
          meters.relayReconnects.increment();
          log.warn("event=cache_relay_reconnected action=clear_every_l1");
          runtime.invalidateByName(new BusMessage.Item(BusMessage.Kind.CLEAR, "*", null));
        } else {
          log.info("event=cache_relay_listening channel={} schema={}", CHANNEL, config.schema());
        }
        first = false;
        PGConnection pg = c.unwrap(PGConnection.class);
        while (running) {
          PGNotification[] ns = pg.getNotifications(500);
          if (ns == null) {
            continue;
          }
          for (PGNotification n : ns) {
            relay(n.getParameter());
          }
        }
      } catch (SQLException | RuntimeException e) {
        listening = false;
        if (running) {
          log.warn("event=cache_relay_failed error=\"{}\" retry_in_ms={}", e.getMessage(), backoff);
          sleep(backoff);
          backoff = Math.min(backoff * 2, 5_000);
        }
      } finally {
        listening = false;
        connection = null;
      }
    }
  }

  private Connection connect() throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", config.jdbcUser());
    if (!config.jdbcPassword().isEmpty()) {
      p.setProperty("password", config.jdbcPassword());
    }
    p.setProperty("ApplicationName", "spillway-cache-relay");
    p.setProperty("tcpKeepAlive", "true");
    return DriverManager.getConnection(config.jdbcUrl(), p);
  }

  void relay(String payload) {
    try {
      JsonNode n = JSON.readTree(payload);
      if (!config.schema().equals(n.path("s").asText())) {
        return; // another deployment sharing the database
      }
      String cache = n.path("c").asText();
      if (cache.isEmpty()) {
        return;
      }
      BusMessage.Item item;
      if (n.hasNonNull("k")) {
        item = new BusMessage.Item(BusMessage.Kind.KEY, cache, n.path("k").asText());
      } else if (n.hasNonNull("t")) {
        item = new BusMessage.Item(BusMessage.Kind.TAG, cache, n.path("t").asText());
      } else {
        return;
      }
      meters.relayNotifications.increment();
      runtime.invalidateByName(item);
    } catch (Exception e) {
      log.warn(
          "event=cache_relay_bad_payload payload_chars={} error=\"{}\"",
          payload.length(),
          e.toString());
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(3_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
