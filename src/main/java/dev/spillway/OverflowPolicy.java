package dev.spillway;

/**
 * What {@code increment()} does when Redis cannot take writes and the local buffer already holds
 * {@code client.max-pending-cells} distinct cells. No policy drops an increment silently.
 */
public enum OverflowPolicy {
  /** The calling thread waits for room, up to {@code client.block-timeout}, then throws. */
  BLOCK,
  /**
   * Buffered cells are written straight to PostgreSQL through the same ledger path the flusher uses
   * (idempotent), so callers never wait on Redis. Falls back to {@link #BLOCK} while PostgreSQL is
   * unreachable too.
   */
  DIRECT,
  /** {@code increment()} throws {@link BufferFullException} at once. */
  FAIL
}
