package dev.spillway;

/**
 * When a drain counts as delivered ({@code client.durability}). Either way every increment is
 * counted exactly once; they differ in what an asynchronous Redis failover can lose.
 */
public enum Durability {
  /**
   * Delivered once the master answered (the default). A master that dies before its replica saw the
   * last writes loses them: the increments of about the last replication lag.
   */
  ASYNC,
  /**
   * Delivered once {@code WAIT} confirmed that at least {@code client.durable-replicas} replicas
   * hold the drain. Until then the cells stay in the client and are re-sent (idempotently) to
   * whichever master answers, so a failover loses nothing that {@code flush()} acknowledged.
   */
  REPLICATED;

  public boolean replicated() {
    return this == REPLICATED;
  }
}
