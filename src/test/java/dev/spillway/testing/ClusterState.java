package dev.spillway.testing;

import io.lettuce.core.RedisException;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.models.partitions.ClusterPartitionParser;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode.NodeFlag;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * What the running nodes of a {@link RedisClusterProcess} say about their cluster (CLUSTER INFO,
 * CLUSTER NODES, INFO replication), and bounded waits for it to turn out as a test needs.
 *
 * <p>Nodes that are not running (killed) are left out: their flags in the others' views do not
 * count, but no slot may be routed to them. A failed wait quotes the last problem and the end of
 * every node's log.
 */
final class ClusterState {

  static final int SLOTS = SlotHash.SLOT_COUNT;
  private static final Duration POLL = Duration.ofMillis(50);

  /** The outcome of {@link #check()}; {@code owners[slot]} is a node id, null when problematic. */
  record Check(String problem, String[] owners) {
    static Check problem(String problem) {
      return new Check(problem, null);
    }
  }

  private final List<ClusterNodeProcess> nodes;

  ClusterState(List<ClusterNodeProcess> nodes) {
    this.nodes = nodes;
  }

  /**
   * Whether the cluster is healthy: every running node reports {@code cluster_state:ok} with all
   * slots assigned; sees every other running node connected and without a FAIL, PFAIL, HANDSHAKE or
   * NOADDR flag; routes every slot to a running node; agrees with the others on the slot owners and
   * on who replicates whom; and, if it is a replica, has {@code master_link_status:up}. Returns the
   * slot owners they agree on, or the first problem.
   */
  Check check() {
    String[] agreed = null;
    String agreedRoles = null;
    int agreedBy = 0;
    for (ClusterNodeProcess node : nodes) {
      if (!node.isRunning()) {
        continue;
      }
      try {
        RedisCommands<String, String> redis = node.redis();
        String info = redis.clusterInfo();
        if (!info.contains("cluster_state:ok")
            || !info.contains("cluster_slots_assigned:" + SLOTS)) {
          return Check.problem(node.port() + " reports " + info.lines().limit(3).toList());
        }
        List<RedisClusterNode> view = parse(redis.clusterNodes());
        for (RedisClusterNode other : view) {
          ClusterNodeProcess known = node(other.getNodeId());
          if (known.isRunning()
              && (other.is(NodeFlag.FAIL)
                  || other.is(NodeFlag.EVENTUAL_FAIL)
                  || other.is(NodeFlag.HANDSHAKE)
                  || other.is(NodeFlag.NOADDR)
                  || !(other.is(NodeFlag.MYSELF) || other.isConnected()))) {
            return Check.problem(node.port() + " sees " + known.port() + " " + other.getFlags());
          }
        }
        String[] owners = owners(view);
        for (String owner : owners) {
          if (owner == null || !node(owner).isRunning()) {
            return Check.problem(node.port() + " routes slots to a dead node or to none");
          }
        }
        String roles = roles(view);
        if (agreed != null && !(Arrays.equals(agreed, owners) && agreedRoles.equals(roles))) {
          return Check.problem(node.port() + " and " + agreedBy + " disagree on the layout");
        }
        agreed = owners;
        agreedRoles = roles;
        agreedBy = node.port();
        String replication = redis.info("replication");
        if (replication.contains("role:slave") && !replication.contains("master_link_status:up")) {
          return Check.problem("replica " + node.port() + " is not in sync with its master");
        }
      } catch (RedisException e) {
        node.dropConnection();
        return Check.problem(node.port() + " fails: " + e.getMessage());
      }
    }
    return agreed == null ? Check.problem("no node is running") : new Check(null, agreed);
  }

  /** Waits until the cluster is healthy and every node routes {@code slots} to {@code owner}. */
  void awaitOwner(List<Integer> slots, ClusterNodeProcess owner, Duration timeout) {
    waitFor(
        "move of slots " + slots + " to " + owner.port(),
        timeout,
        () -> {
          Check check = check();
          if (check.problem() != null) {
            return check.problem();
          }
          return slots.stream()
              .filter(slot -> !owner.id().equals(check.owners()[slot]))
              .findFirst()
              .map(slot -> "slot " + slot + " is not on " + owner.port() + " everywhere yet")
              .orElse(null);
        });
  }

  /** Before CLUSTER REPLICATE can name a master, every node must know all, out of handshake. */
  String meetProblem() {
    for (ClusterNodeProcess node : nodes) {
      List<RedisClusterNode> view = parse(node.redis().clusterNodes());
      long known = view.stream().filter(n -> !n.is(NodeFlag.HANDSHAKE)).count();
      if (known < nodes.size()) {
        return node.port() + " knows " + known + " of " + nodes.size() + " nodes";
      }
    }
    return null;
  }

  /** CLUSTER NODES of the first running node that answers. */
  List<RedisClusterNode> view() {
    RedisException last = null;
    for (ClusterNodeProcess node : nodes) {
      if (node.isRunning()) {
        try {
          return parse(node.redis().clusterNodes());
        } catch (RedisException e) {
          node.dropConnection();
          last = e;
        }
      }
    }
    throw new IllegalStateException("No cluster node answers", last);
  }

  /** {@code owners[slot]}: the id of the node owning the slot in {@code view}, or null. */
  static String[] owners(List<RedisClusterNode> view) {
    String[] owners = new String[SLOTS];
    for (RedisClusterNode node : view) {
      node.forEachSlot(slot -> owners[slot] = node.getNodeId());
    }
    return owners;
  }

  /** Polls {@code problem} until it returns null; throws with the last one and the log tails. */
  void waitFor(String what, Duration timeout, Supplier<String> problem) {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last;
    do {
      try {
        last = problem.get();
      } catch (RedisException e) {
        last = e.getMessage();
      }
      if (last == null) {
        return;
      }
      ClusterNodeProcess.sleep(POLL);
    } while (System.nanoTime() < deadline);
    StringBuilder message = new StringBuilder("No " + what + " within " + timeout + ": " + last);
    nodes.forEach(node -> message.append('\n').append(node.logTail(12)));
    throw new IllegalStateException(message.toString());
  }

  ClusterNodeProcess node(int port) {
    return nodes.stream()
        .filter(n -> n.port() == port)
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("No cluster node on port " + port));
  }

  ClusterNodeProcess node(String id) {
    return nodes.stream()
        .filter(n -> id.equals(n.id()))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("Unknown cluster node " + id));
  }

  /** Who replicates whom among the running nodes of {@code view}: "port>masterPort" or "port". */
  private String roles(List<RedisClusterNode> view) {
    return view.stream()
        .filter(n -> node(n.getNodeId()).isRunning())
        .map(
            n ->
                node(n.getNodeId()).port()
                    + (n.getSlaveOf() == null ? "" : ">" + node(n.getSlaveOf()).port()))
        .sorted()
        .toList()
        .toString();
  }

  private static List<RedisClusterNode> parse(String clusterNodes) {
    return ClusterPartitionParser.parse(clusterNodes).getPartitions();
  }
}
