package dev.spillway.testing;

import static dev.spillway.testing.ClusterState.SLOTS;

import dev.spillway.testing.ClusterState.Check;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private Redis Cluster of three masters with one replica each, every node a {@code redis-server}
 * child process on a free loopback port, for tests of cluster routing, failover and resharding.
 *
 * <p>The binary is found like {@link RedisServerProcess} finds it ({@code PATH}, else the one
 * bundled in {@code embedded-redis}, a Redis 6.2). Each node runs with {@code --cluster-enabled
 * yes}, its own {@code nodes-<port>.conf} in a temporary folder, no persistence and {@code
 * --cluster-replica-validity-factor 0}, so a replica always takes over when its master dies (see
 * {@link ClusterNodeProcess} for every argument). The cluster is put together from Java
 * (ADDSLOTSRANGE, or ADDSLOTS on Redis 6; SET-CONFIG-EPOCH; MEET; REPLICATE) rather than with
 * {@code redis-cli --cluster create}: that needs no {@code redis-cli} (the bundled binary comes
 * without one), and a failure names the step that failed.
 *
 * <p>Waits are bounded (30 s where a method takes no timeout) and end in {@link
 * IllegalStateException} quoting the problem and the end of every node's log; "healthy" is defined
 * in {@link ClusterState#check()}. Nodes killed with {@link #kill} are left out of it until {@link
 * #restart}. {@link #close()} stops every node and deletes the folder; a shutdown hook does the
 * same if the JVM exits first.
 */
public final class RedisClusterProcess implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RedisClusterProcess.class);
  private static final Duration DEFAULT_NODE_TIMEOUT = Duration.ofMillis(2000);
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
  private static final String HOST = "127.0.0.1";
  private static final int MASTERS = 3;

  private final Path folder;
  private final List<ClusterNodeProcess> nodes; // created as masters first, then their replicas
  private final ClusterState state;
  private final RedisClient admin;
  private final Map<Integer, Loss> losses = new ConcurrentHashMap<>();
  private final Thread shutdownHook;
  private final List<String> migrated = new CopyOnWriteArrayList<>();
  private volatile int migrateBatch = 20;
  private boolean closed; // guarded by this

  /** What a {@link #kill} took away: the node's slots and the replicas that may take them. */
  private record Loss(List<Integer> slots, Set<String> replicaIds) {}

  private RedisClusterProcess(Path folder) {
    this.folder = folder;
    this.nodes = new ArrayList<>();
    this.state = new ClusterState(nodes);
    this.admin = RedisClient.create();
    admin.setOptions(
        ClientOptions.builder()
            .autoReconnect(false) // a dead node must fail fast, not queue commands
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .build());
    this.shutdownHook =
        new Thread(
            () -> {
              nodes.forEach(ClusterNodeProcess::terminate);
              RedisProcesses.deleteFolder(folder);
            },
            "redis-cluster-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** Starts a cluster with a 2 s {@code cluster-node-timeout}. */
  public static RedisClusterProcess start() {
    return start(DEFAULT_NODE_TIMEOUT);
  }

  /**
   * Starts six nodes, joins them into a cluster and waits until it is healthy. The node timeout is
   * how long a master must be unreachable before its replica takes over.
   *
   * @throws IllegalStateException if a node does not start or the cluster is not healthy in 30 s
   */
  public static RedisClusterProcess start(Duration nodeTimeout) {
    long started = System.nanoTime();
    Path folder = ClusterNodeProcess.createFolder();
    String executable;
    try {
      executable = RedisProcesses.executable(folder);
    } catch (IllegalStateException e) {
      RedisProcesses.deleteFolder(folder);
      throw e;
    }
    var cluster = new RedisClusterProcess(folder);
    try {
      Set<Integer> taken = new HashSet<>();
      for (int i = 0; i < 2 * MASTERS; i++) {
        cluster.nodes.add(
            ClusterNodeProcess.launchOnFreePort(
                executable, folder, nodeTimeout, cluster.admin, taken));
      }
      cluster.assemble();
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
    LOG.info(
        "Redis Cluster on ports {} is up in {} ms",
        cluster.ports(),
        (System.nanoTime() - started) / 1_000_000);
    return cluster;
  }

  /** {@code redis://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3}: the nodes created as masters. */
  public String seedUri() {
    StringBuilder uri = new StringBuilder("redis://");
    for (int i = 0; i < MASTERS; i++) {
      uri.append(i == 0 ? "" : ",").append(HOST).append(':').append(nodes.get(i).port());
    }
    return uri.toString();
  }

  /** All six ports: the three created as masters, then their replicas in the same order. */
  public List<Integer> ports() {
    return nodes.stream().map(ClusterNodeProcess::port).toList();
  }

  /** Ports of the masters that own slots now, ordered by their lowest slot. */
  public List<Integer> masterPorts() {
    String[] owners = ClusterState.owners(state.view());
    return IntStream.range(0, SLOTS)
        .mapToObj(slot -> owners[slot])
        .filter(Objects::nonNull)
        .distinct()
        .map(id -> state.node(id).port())
        .toList();
  }

  /** The port of the running replica that follows {@code masterPort} (INFO replication). */
  public int replicaOf(int masterPort) {
    for (int port : replicaPorts()) {
      try (TestRedis r = TestRedis.connect("redis://127.0.0.1:" + port, false)) {
        String info = r.sync().info("replication");
        if (info.contains("master_port:" + masterPort + "\r")
            || info.contains("master_port:" + masterPort + "\n")) {
          return port;
        }
      }
    }
    throw new AssertionError("no replica follows :" + masterPort);
  }

  /** Ports of the running nodes that are replicas now (INFO replication). */
  public List<Integer> replicaPorts() {
    return nodes.stream()
        .filter(n -> n.isRunning() && n.redis().info("replication").contains("role:slave"))
        .map(ClusterNodeProcess::port)
        .toList();
  }

  public boolean isRunning(int port) {
    return state.node(port).isRunning();
  }

  /**
   * Every process the cluster has started, the killed and the restarted ones included, so a test
   * can check that {@link #close()} leaves none alive.
   */
  public List<ProcessHandle> processes() {
    return nodes.stream().flatMap(n -> n.processes().stream()).toList();
  }

  /** The port of the master owning {@code slot}, as a running node sees it now. */
  public int masterPortForSlot(int slot) {
    String owner = ClusterState.owners(state.view())[slot];
    if (owner == null) {
      throw new IllegalStateException("No node owns slot " + slot);
    }
    return state.node(owner).port();
  }

  public int masterPortForKey(String key) {
    return masterPortForSlot(SlotHash.getSlot(key));
  }

  /** The slots {@code masterPort} owns now, ascending. */
  public List<Integer> slots(int masterPort) {
    return slotsOf(state.node(masterPort).id(), ClusterState.owners(state.view()));
  }

  /** SIGKILLs a node, like a crash; a master's replica takes over after the node timeout. */
  public void kill(int port) {
    ClusterNodeProcess node = state.node(port);
    if (!node.isRunning()) {
      return;
    }
    List<RedisClusterNode> view = state.view();
    Set<String> replicas = new HashSet<>();
    for (RedisClusterNode other : view) {
      if (node.id().equals(other.getSlaveOf())) {
        replicas.add(other.getNodeId());
      }
    }
    losses.put(port, new Loss(slotsOf(node.id(), ClusterState.owners(view)), replicas));
    node.kill();
  }

  /**
   * Waits until former replicas of the killed master {@code deadMasterPort} own all its slots and
   * the running nodes are healthy again.
   */
  public void awaitFailover(int deadMasterPort, Duration timeout) {
    Loss loss = losses.get(deadMasterPort);
    if (loss == null) {
      throw new IllegalStateException("Node " + deadMasterPort + " was not killed by kill()");
    }
    state.waitFor(
        "failover of " + deadMasterPort,
        timeout,
        () -> {
          Check check = state.check();
          if (check.problem() != null) {
            return check.problem();
          }
          return loss.slots().stream()
              .filter(slot -> !loss.replicaIds().contains(check.owners()[slot]))
              .findFirst()
              .map(slot -> "slot " + slot + " is not on a former replica yet")
              .orElse(null);
        });
  }

  /**
   * Starts a killed node again with the same {@code nodes-<port>.conf}, so it rejoins (a master
   * whose slots were taken over comes back as a replica of the new master), and waits until the
   * cluster is healthy, which includes the node being in sync. A running node is stopped first.
   */
  public void restart(int port) {
    ClusterNodeProcess node = state.node(port);
    node.stop();
    node.launch();
    losses.remove(port);
    awaitHealthy(READY_TIMEOUT);
  }

  /** Waits until the running nodes are healthy (see {@link ClusterState#check()}). */
  public void awaitHealthy(Duration timeout) {
    state.waitFor("healthy cluster", timeout, () -> state.check().problem());
  }

  /** Moves the lowest {@code count} slots of {@code fromPort} with their keys to {@code toPort}. */
  public List<Integer> migrateSlots(int fromPort, int toPort, int count) {
    return migrateSlots(fromPort, toPort, count, Duration.ZERO);
  }

  /**
   * Moves the lowest {@code count} slots of {@code fromPort} to {@code toPort}; see {@link
   * #migrateSlots(int, int, List, Duration)}.
   *
   * @return the slots moved
   */
  public List<Integer> migrateSlots(
      int fromPort, int toPort, int count, Duration pauseBetweenBatches) {
    List<Integer> owned = slots(fromPort);
    if (owned.size() < count) {
      throw new IllegalArgumentException(
          "Cannot move "
              + count
              + " of the "
              + owned.size()
              + " slots of "
              + fromPort
              + " to "
              + toPort);
    }
    return migrateSlots(fromPort, toPort, owned.subList(0, count), pauseBetweenBatches);
  }

  /**
   * Moves {@code slots}, all owned by {@code fromPort}, to {@code toPort} the way resharding does:
   * per slot SETSLOT IMPORTING on the target and MIGRATING on the source, GETKEYSINSLOT and MIGRATE
   * ... KEYS in batches (20 keys unless {@link #migrateBatchSize} said otherwise), then SETSLOT
   * NODE on the target, the source and the other masters. Clients meanwhile see ASK (a key already
   * moved), TRYAGAIN (a multi-key command over keys on both sides, or missing on the target) and,
   * afterwards, MOVED. Sleeps {@code pauseBetweenBatches} after each batch, then waits until every
   * node agrees on the new owner. A failure leaves the slot half moved, as a failed {@code
   * redis-cli --cluster reshard} does. The keys moved are added to {@link #migratedKeys()}.
   *
   * @return the slots moved
   */
  public List<Integer> migrateSlots(
      int fromPort, int toPort, List<Integer> slots, Duration pauseBetweenBatches) {
    ClusterNodeProcess source = state.node(fromPort);
    ClusterNodeProcess target = state.node(toPort);
    List<Integer> moving = List.copyOf(slots);
    if (fromPort == toPort || moving.isEmpty() || !slots(fromPort).containsAll(moving)) {
      throw new IllegalArgumentException(
          "Cannot move slots "
              + moving
              + " from "
              + fromPort
              + " to "
              + toPort
              + ": "
              + fromPort
              + " must own them all");
    }
    for (int slot : moving) {
      migrated.addAll(source.moveSlotKeys(target, slot, migrateBatch, pauseBetweenBatches));
      // The target first, so the slot is never without an owner; then the source; then the rest.
      target.redis().clusterSetSlotNode(slot, target.id());
      source.redis().clusterSetSlotNode(slot, target.id());
      for (int port : masterPorts()) {
        if (port != fromPort && port != toPort) {
          state.node(port).redis().clusterSetSlotNode(slot, target.id());
        }
      }
    }
    state.awaitOwner(moving, target, READY_TIMEOUT);
    return moving;
  }

  /**
   * {@link #migrateSlots(int, int, int, Duration)} on a new daemon thread, so a test can work on
   * the cluster while the slots move; the future completes with the slots moved.
   */
  public CompletableFuture<List<Integer>> migrateSlotsAsync(
      int fromPort, int toPort, int count, Duration pauseBetweenBatches) {
    return async(() -> migrateSlots(fromPort, toPort, count, pauseBetweenBatches));
  }

  /** {@link #migrateSlots(int, int, List, Duration)} on a new daemon thread. */
  public CompletableFuture<List<Integer>> migrateSlotsAsync(
      int fromPort, int toPort, List<Integer> slots, Duration pauseBetweenBatches) {
    return async(() -> migrateSlots(fromPort, toPort, slots, pauseBetweenBatches));
  }

  /**
   * Keys per MIGRATE from now on (20 at first). A small batch leaves a slot's keys split between
   * the two nodes for longer, so that multi-key commands meet TRYAGAIN.
   */
  public void migrateBatchSize(int keys) {
    if (keys < 1) {
      throw new IllegalArgumentException("A MIGRATE batch needs at least one key, not " + keys);
    }
    migrateBatch = keys;
  }

  /** Every key moved by the migrations so far, in the order moved. */
  public List<String> migratedKeys() {
    return List.copyOf(migrated);
  }

  private static CompletableFuture<List<Integer>> async(Supplier<List<Integer>> migration) {
    return CompletableFuture.supplyAsync(
        migration, task -> Thread.ofPlatform().daemon().name("redis-cluster-migrate").start(task));
  }

  /** Stops every node (killed and restarted ones too) and deletes the folder; idempotent. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    nodes.forEach(ClusterNodeProcess::stop);
    admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // The JVM is exiting; the hook runs anyway and finds nothing left to stop.
    }
    RedisProcesses.deleteFolder(folder);
  }

  private void assemble() {
    for (ClusterNodeProcess node : nodes) {
      node.id(node.redis().clusterMyId());
    }
    for (int i = 0; i < MASTERS; i++) {
      addSlots(nodes.get(i).redis(), i * SLOTS / MASTERS, (i + 1) * SLOTS / MASTERS - 1);
    }
    for (int i = 0; i < nodes.size(); i++) {
      // Distinct epochs, as redis-cli gives them, so no slot claim waits on a collision to settle.
      nodes.get(i).redis().clusterSetConfigEpoch(i + 1);
    }
    RedisCommands<String, String> first = nodes.get(0).redis();
    for (ClusterNodeProcess node : nodes.subList(1, nodes.size())) {
      first.clusterMeet(HOST, node.port());
    }
    state.waitFor("meeting of the nodes", READY_TIMEOUT, state::meetProblem);
    for (int i = 0; i < MASTERS; i++) {
      nodes.get(MASTERS + i).redis().clusterReplicate(nodes.get(i).id());
    }
    awaitHealthy(READY_TIMEOUT);
  }

  @SuppressWarnings("unchecked") // one Range in a generic varargs array
  private static void addSlots(RedisCommands<String, String> master, int from, int to) {
    try {
      master.clusterAddSlotsRange(Range.create(from, to));
    } catch (RedisCommandExecutionException e) { // Redis 6 (the bundled binary) has no RANGE
      master.clusterAddSlots(IntStream.rangeClosed(from, to).toArray());
    }
  }

  private static List<Integer> slotsOf(String nodeId, String[] owners) {
    return IntStream.range(0, SLOTS).filter(s -> nodeId.equals(owners[s])).boxed().toList();
  }
}
