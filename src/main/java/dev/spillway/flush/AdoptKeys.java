package dev.spillway.flush;

import dev.spillway.layout.KeyLayout;
import dev.spillway.runtime.Errors;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Where adopted keys go once claimed (see {@link KeyLayout#adoptBatch}). An {@code ADOPT_CLAIM}
 * script moves user keys into a batch hash atomically, so on Redis Cluster the batch key must live
 * in the slot of the keys it takes: keys are claimed in groups of one slot, under a hash tag that
 * hashes to that slot ({@link #tagForKey}). On a single Redis every batch uses the tag {@code a}.
 *
 * <p>A batch id names its tag, so the batch key follows from the id alone: {@code
 * a.<mapping>.<millis base 36>-<random>} on a single Redis, {@code a.<mapping>.<tag>.<millis base
 * 36>-<random>} on a cluster. The claim time stays the last segment, as {@code PendingBatches}
 * expects.
 */
public final class AdoptKeys {
  static final String SINGLE_TAG = "a";
  private static final String[] SLOT_TAGS = slotTags();

  private final KeyLayout layout;
  private final boolean cluster;

  public AdoptKeys(KeyLayout layout, boolean cluster) {
    this.layout = layout;
    this.cluster = cluster;
  }

  public boolean cluster() {
    return cluster;
  }

  /** The tag of the batch that may take {@code key}: its slot's tag on a cluster. */
  public String tagForKey(String key) {
    return cluster ? SLOT_TAGS[SlotHash.getSlot(key)] : SINGLE_TAG;
  }

  /** The shortest base-36 number whose CRC16 lands in {@code slot}. */
  public static String slotTag(int slot) {
    return SLOT_TAGS[slot];
  }

  public String newBatchId(String mapping, String tag, long millis, long random) {
    String stamp = KeyLayout.batchId(millis, random);
    return cluster ? "a." + mapping + "." + tag + "." + stamp : "a." + mapping + "." + stamp;
  }

  /** The tag named by a batch id ({@code a} for single-Redis ids). */
  public static String tagOf(String batchId) {
    String[] parts = batchId.split("\\.");
    return parts.length == 4 ? parts[2] : SINGLE_TAG;
  }

  public String batch(String mapping, String batchId) {
    return layout.adoptBatch(mapping, tagOf(batchId), batchId);
  }

  public String batches(String mapping, String tag) {
    return layout.adoptBatches(mapping, tag);
  }

  /**
   * Where earlier versions quarantined a key of the wrong type ({@link KeyLayout#adoptQuarantine}).
   */
  public String quarantine(String mapping, String batchId, String key) {
    return layout.adoptQuarantine(mapping, tagOf(batchId), batchId, key);
  }

  /**
   * The batches sets of {@code mapping} that exist: the one set on a single Redis; on a cluster,
   * those a SCAN over every master finds (one per slot that had keys to adopt).
   *
   * @param flush run after each command (for a connection with auto-flush off), may be a no-op
   */
  public List<String> batchesSets(
      RedisClusterAsyncCommands<String, String> redis,
      String mapping,
      Runnable flush,
      Duration timeout) {
    if (!cluster) {
      return List.of(layout.adoptBatches(mapping, SINGLE_TAG));
    }
    String pattern = layout.prefix() + "{*}:adopt:" + mapping + ":batches";
    ScanArgs args = ScanArgs.Builder.matches(pattern).limit(1000);
    List<String> found = new ArrayList<>();
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      var f = cursor == ScanCursor.INITIAL ? redis.scan(args) : redis.scan(cursor, args);
      flush.run();
      KeyScanCursor<String> page;
      try {
        page = f.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while scanning for adopt batches", e);
      } catch (Exception e) {
        throw new IllegalStateException(
            "scanning for adopt batches failed: " + Errors.rootMessage(e), e);
      }
      found.addAll(page.getKeys());
      cursor = page;
    } while (!cursor.isFinished());
    return found;
  }

  private static String[] slotTags() {
    String[] tags = new String[SlotHash.SLOT_COUNT];
    int missing = tags.length;
    for (int i = 0; missing > 0; i++) {
      String t = Integer.toString(i, 36);
      int slot = SlotHash.getSlot(t);
      if (tags[slot] == null) {
        tags[slot] = t;
        missing--;
      }
    }
    return tags;
  }
}
