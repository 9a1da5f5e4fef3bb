package dev.spillway.layout;

/**
 * Names of Spillway's Redis keys. Every key of one stripe carries the same hash tag ({@code {17}}),
 * so every script touching a stripe works unchanged on Redis Cluster.
 *
 * <pre>
 *   {prefix}{s}:live          hash   cell -> pending delta, written by clients; plus #claim, the
 *                                    hash's claim id, written with its first cell
 *   {prefix}{s}:batch:{id}    hash   a claimed (renamed) live hash, waiting to be applied; plus
 *                                    #batch = its own id
 *   {prefix}{s}:batches       set    ids of claimed batches not yet acknowledged
 *   {prefix}{s}:seen          hash   client id -> "last applied packet seq:unix seconds"
 *   {prefix}{s}:epoch         hash   n = claims so far (lets exact reads detect a race); inc =
 *                                    incarnation id, numbering live hashes of older clients
 * </pre>
 *
 * <p>The stripe of a cell depends only on (counter, key) and the stripe count, so every bucket of
 * one counter key lives in one stripe. The stripe count is part of the key names: changing it for a
 * deployment with pending data strands that data, so don't (see README).
 */
public final class KeyLayout {
  private final String prefix;
  private final int stripes;

  public KeyLayout(String prefix, int stripes) {
    this.prefix = prefix;
    this.stripes = stripes;
  }

  public int stripes() {
    return stripes;
  }

  public String prefix() {
    return prefix;
  }

  /**
   * Stripe of (counter, key). Uses {@link String#hashCode()} (specified by the JLS, so stable
   * across JVMs and versions) finished with MurmurHash3's fmix32 so that similar keys spread.
   */
  public int stripeOf(String counter, String key) {
    int h = counter.hashCode() * 31 + key.hashCode();
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return Math.floorMod(h, stripes);
  }

  public String live(int stripe) {
    return prefix + "{" + stripe + "}:live";
  }

  public String batch(int stripe, String batchId) {
    return prefix + "{" + stripe + "}:batch:" + batchId;
  }

  public String batches(int stripe) {
    return prefix + "{" + stripe + "}:batches";
  }

  public String seen(int stripe) {
    return prefix + "{" + stripe + "}:seen";
  }

  public String epoch(int stripe) {
    return prefix + "{" + stripe + "}:epoch";
  }

  /**
   * Batches of an adopt mapping: {@code {prefix}{tag}:adopt:{mapping}:batch:{id}}. On a single
   * Redis the tag is {@code a}; on a cluster it is a tag hashing to the slot of the adopted keys
   * moved into the batch, so that the moving script touches one slot.
   */
  public String adoptBatch(String mapping, String tag, String batchId) {
    return prefix + "{" + tag + "}:adopt:" + mapping + ":batch:" + batchId;
  }

  public String adoptBatches(String mapping, String tag) {
    return prefix + "{" + tag + "}:adopt:" + mapping + ":batches";
  }

  /**
   * Where earlier versions moved an adopted key of the wrong Redis type, whole, for a person to
   * look at (the batch id kept a second quarantine of the same key from overwriting the first).
   * Adopt no longer touches such keys; the name is still needed to dead-letter the entries of a
   * batch claimed by such a version and still pending.
   */
  public String adoptQuarantine(String mapping, String tag, String batchId, String key) {
    return prefix + "{" + tag + "}:adopt:" + mapping + ":quarantine:" + batchId + ":" + key;
  }

  /**
   * A new batch id: the time in base 36 and 64 random bits in hex, {@code <millis>-<random>}.
   * Unique without coordination (ids are compared, never ordered); the time part makes an id's age
   * readable in {@code redis-cli} and in the ledger.
   */
  public static String batchId(long millis, long random) {
    return Long.toString(millis, 36) + "-" + Long.toHexString(random);
  }
}
