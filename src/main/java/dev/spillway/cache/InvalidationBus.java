package dev.spillway.cache;

import dev.spillway.redis.RedisConnector;
import dev.spillway.runtime.RuntimeFailure;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The invalidation bus: one Redis pub/sub channel per deployment. Every runtime subscribes on its
 * own connection and publishes its invalidations there, batched: a single publisher thread sends
 * whatever has queued up while the previous message was in flight, so a burst of 10,000
 * invalidations becomes a few dozen messages and a lone one leaves at once.
 *
 * <p>Pub/sub is fire-and-forget: a subscriber that is disconnected misses messages for good. So
 * whenever the subscription drops, is re-established, or stops delivering this runtime's own
 * heartbeat, every L1 of this runtime is cleared (a lost message must never leave a stale L1 value
 * beyond one L1 TTL, and after a clear it leaves none). L2 does not depend on the bus: an
 * invalidation deletes the Redis entry before it is published.
 *
 * <p>Bounded: at most {@code capacity} items ({@value #QUEUE_CAPACITY} in a runtime) wait to be
 * published. When an item does not fit, everything queued is dropped and replaced by one CLEAR per
 * cache it concerned (a cleared L1 is always correct, and the L2 part of each dropped invalidation
 * was done before it was queued).
 *
 * <p>{@link #close()} sends what is queued before it returns (for up to {@link #DRAIN_TIMEOUT}), so
 * the last flush of a short-lived process ({@code spillway flush --once}) still reaches the other
 * instances; past that, it gives up, says how many were not sent, and stops the publisher before
 * the connection goes, so nothing is sent on a client already shut down.
 */
final class InvalidationBus implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(InvalidationBus.class);
  private static final int MAX_ITEMS_PER_MESSAGE = 500;
  static final int QUEUE_CAPACITY = 100_000;

  /** How long close() keeps sending queued invalidations; a flush queues a few messages' worth. */
  static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(5);

  /** What the bus delivers to the runtime. */
  interface Receiver {
    void onItems(List<BusMessage.Item> items);

    /** Clear every L1 of this runtime; {@code why} is for metrics and the log. */
    void clearAll(String why);
  }

  private final RedisConnector client;
  private final String channel;
  private final L2 redis;
  private final CacheMeters meters;
  private final Receiver receiver;
  private final Duration heartbeat;
  private final Duration timeout;
  private final String origin;
  private final BlockingQueue<BusMessage.Item> queue;
  private final AtomicInteger subscribeEvents = new AtomicInteger();
  private final Thread publisher;
  private final RuntimeFailure failure;
  private boolean collapsing; // guarded by queue; for one log line per episode
  private String foreignChannel;
  private Consumer<String> foreignHandler;
  private StatefulRedisPubSubConnection<String, String> connection;
  private ScheduledFuture<?> heartbeatTask;
  private volatile boolean running = true;

  /** Set by close() when draining took too long: the publisher stops without sending more. */
  private volatile boolean abandoned;

  private volatile boolean subscribed;
  private volatile String pingOutstanding;
  private volatile long pingSentNanos;
  private volatile boolean heartbeatLost;

  InvalidationBus(
      RedisConnector client,
      String channel,
      L2 redis,
      CacheMeters meters,
      Receiver receiver,
      Duration heartbeat,
      Duration timeout,
      RuntimeFailure failure,
      int capacity) {
    this.client = client;
    this.failure = failure;
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.channel = channel;
    this.redis = redis;
    this.meters = meters;
    this.receiver = receiver;
    this.heartbeat = heartbeat;
    this.timeout = timeout;
    this.origin = Long.toHexString(ThreadLocalRandom.current().nextLong());
    this.publisher = new Thread(this::publishLoop, "spillway-cache-bus");
    publisher.setDaemon(true);
  }

  /**
   * Before {@link #start}: also subscribe to {@code channel} on the bus's connection and hand its
   * messages to {@code handler}, on the subscriber thread (which must not block). Sharing the
   * connection means the bus's disconnect, re-subscribe and heartbeat L1 clears cover events lost
   * on that channel too.
   */
  void alsoSubscribe(String channel, Consumer<String> handler) {
    this.foreignChannel = channel;
    this.foreignHandler = handler;
  }

  /** Subscribes (waiting at most the Redis timeout) and starts the publisher and heartbeat. */
  void start(ScheduledExecutorService scheduler) {
    connection = client.connectPubSub();
    connection.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String ch, String message) {
            if (channel.equals(ch)) {
              onMessage(message);
            } else if (ch.equals(foreignChannel)) {
              foreignHandler.accept(message);
            }
          }

          @Override
          public void subscribed(String ch, long count) {
            // The first confirmation is our own SUBSCRIBE; any later one is Lettuce
            // re-subscribing after a reconnect, and messages sent in the gap are lost. The
            // foreign channel re-subscribes along with the bus channel, so counting one suffices.
            if (channel.equals(ch) && subscribeEvents.incrementAndGet() > 1) {
              subscribed = true;
              meters.l1ClearsResubscribe.increment();
              log.info("event=cache_bus_resubscribed channel={} action=l1_cleared", channel);
              receiver.clearAll("resubscribed");
            }
          }
        });
    connection.addListener(
        new RedisConnectionStateListener() {
          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> c) {
            if (running) {
              subscribed = false;
              meters.l1ClearsDisconnect.increment();
              log.warn("event=cache_bus_disconnected channel={} action=l1_cleared", channel);
              receiver.clearAll("disconnected");
            }
          }
        });
    try {
      String[] channels =
          foreignChannel == null ? new String[] {channel} : new String[] {channel, foreignChannel};
      connection
          .async()
          .subscribe(channels)
          .get(Math.max(timeout.toMillis(), 1000), TimeUnit.MILLISECONDS);
      subscribed = true;
    } catch (Exception e) {
      // Lettuce re-subscribes once Redis answers; until then L1 clears keep readers honest.
      log.warn("event=cache_bus_subscribe_failed channel={} error=\"{}\"", channel, e.toString());
    }
    publisher.start();
    long ms = heartbeat.toMillis();
    heartbeatTask =
        scheduler.scheduleWithFixedDelay(this::heartbeat, ms, ms, TimeUnit.MILLISECONDS);
  }

  String origin() {
    return origin;
  }

  String channel() {
    return channel;
  }

  /** Whether the subscription is believed to be live. */
  boolean subscribed() {
    return subscribed;
  }

  /** Queues an invalidation for every other runtime; never blocks (see the class comment). */
  void publish(BusMessage.Item item) {
    if (!queue.offer(item)) {
      collapse(item);
    }
  }

  /** Replaces the queue's content and {@code extra} by one CLEAR per cache concerned. */
  private void collapse(BusMessage.Item extra) {
    List<BusMessage.Item> dropped = new ArrayList<>();
    boolean first;
    synchronized (queue) {
      queue.drainTo(dropped);
      dropped.add(extra);
      Set<String> caches = new TreeSet<>();
      for (BusMessage.Item i : dropped) {
        caches.add(i.cache());
      }
      for (String c : caches) {
        queue.offer(new BusMessage.Item(BusMessage.Kind.CLEAR, c, null));
      }
      first = !collapsing;
      collapsing = true;
    }
    meters.busItemsCollapsed.increment(dropped.size());
    if (first) {
      log.warn(
          "event=cache_bus_queue_full items={} action=clear_l1_of_caches_concerned channel={}",
          dropped.size(),
          channel);
    }
  }

  private void publishLoop() {
    List<BusMessage.Item> batch = new ArrayList<>(MAX_ITEMS_PER_MESSAGE);
    while ((running || !queue.isEmpty()) && !abandoned) {
      try {
        BusMessage.Item first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        queue.drainTo(batch, MAX_ITEMS_PER_MESSAGE - 1);
        send(new BusMessage(origin, List.copyOf(batch), null));
        if (queue.isEmpty()) {
          synchronized (queue) {
            collapsing = false;
          }
        }
      } catch (InterruptedException e) {
        if (abandoned) {
          break;
        }
      } catch (RuntimeException e) {
        log.warn("event=cache_bus_publish_error error=\"{}\"", e.toString());
      } catch (Error e) {
        failure.record(Thread.currentThread().getName(), e);
        return;
      } finally {
        batch.clear();
      }
    }
  }

  private void send(BusMessage m) {
    byte[] bytes = m.encode();
    for (int attempt = 0; attempt < 3 && !abandoned; attempt++) {
      if (redis.publish(channel, bytes) != null) {
        meters.messagesPublished.increment();
        return;
      }
      sleep(50L << attempt);
    }
    meters.publishFailures.increment();
    log.warn(
        "event=cache_bus_publish_failed items={} effect=other_instances_l1_stale_up_to_l1_ttl",
        m.items().size());
  }

  private void onMessage(String raw) {
    BusMessage m = BusMessage.decode(raw);
    if (m == null) {
      return;
    }
    if (origin.equals(m.origin())) {
      if (m.ping() != null && m.ping().equals(pingOutstanding)) {
        pingOutstanding = null;
        if (heartbeatLost) {
          heartbeatLost = false;
          log.info("event=cache_bus_heartbeat_back channel={} action=l1_cleared", channel);
          receiver.clearAll("heartbeat");
        }
      }
      return; // our own invalidations were applied locally before they were sent
    }
    if (m.items().isEmpty()) {
      return;
    }
    meters.messagesReceived.increment();
    meters.invalidationsReceived.increment(m.items().size());
    receiver.onItems(m.items());
  }

  /**
   * Sends this runtime a ping through Redis. A ping not back within two heartbeats means the
   * subscription is silently dead (a half-open TCP connection is not noticed by the client), so L1
   * is cleared, and cleared again once pings come back.
   */
  private void heartbeat() {
    try {
      String outstanding = pingOutstanding;
      if (outstanding != null
          && System.nanoTime() - pingSentNanos > 2 * heartbeat.toNanos()
          && !heartbeatLost) {
        heartbeatLost = true;
        meters.l1ClearsHeartbeat.increment();
        log.warn("event=cache_bus_heartbeat_lost channel={} action=l1_cleared", channel);
        receiver.clearAll("heartbeat");
      }
      if (outstanding == null || heartbeatLost) {
        String nonce = Long.toHexString(ThreadLocalRandom.current().nextLong());
        pingOutstanding = nonce;
        pingSentNanos = System.nanoTime();
        redis.publish(channel, new BusMessage(origin, List.of(), nonce).encode());
      }
    } catch (RuntimeException e) {
      log.debug("event=cache_bus_heartbeat_error error=\"{}\"", e.toString());
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
      throw e;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Stops the heartbeat, sends what is queued (within {@link #DRAIN_TIMEOUT}), stops the publisher,
   * then closes the subscription. Publishes that arrive later are dropped.
   */
  @Override
  public void close() {
    running = false;
    if (heartbeatTask != null) {
      heartbeatTask.cancel(false);
    }
    try {
      if (publisher.isAlive()) {
        publisher.join(DRAIN_TIMEOUT.toMillis());
      }
      if (publisher.isAlive()) {
        abandoned = true;
        publisher.interrupt(); // its wait on Redis is time-boxed, and interruptible
        publisher.join(Math.max(1000, timeout.toMillis() * 2));
        meters.publishFailures.increment();
        log.warn(
            "event=cache_bus_unsent items={} effect=other_instances_l1_stale_up_to_l1_ttl",
            queue.size());
      }
    } catch (InterruptedException e) {
      abandoned = true;
      Thread.currentThread().interrupt();
    }
    if (connection != null) {
      connection.close();
    }
  }
}
