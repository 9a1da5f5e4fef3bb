package dev.spillway;

/**
 * Thrown by {@code increment()} when the local buffer holds {@code client.max-pending-cells}
 * distinct cells that Redis has not acknowledged, and the overflow policy is {@code FAIL} (or
 * {@code BLOCK} waited {@code client.block-timeout} without room appearing). The increment that
 * raised it was not recorded; nothing recorded earlier is lost.
 */
public final class BufferFullException extends SpillwayException {
  public BufferFullException(String message) {
    super(message);
  }
}
