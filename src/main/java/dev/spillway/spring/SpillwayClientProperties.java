package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The embedded counter client. */
public class SpillwayClientProperties {
  /**
   * How often the local buffer drains to Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S.
   * Default 100ms.
   */
  private String drainInterval;

  /** Counter cells the local buffer holds before the overflow policy applies. Default 1000000. */
  private Integer maxPendingCells;

  /** What increment() does when the buffer is full: BLOCK, DIRECT or FAIL (see OverflowPolicy). */
  private String overflow;

  /**
   * Longest wait of a blocked increment(), a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default
   * 30s.
   */
  private String blockTimeout;

  /**
   * How long closing may take to drain the buffer, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S.
   * Default 10s.
   */
  private String closeTimeout;

  /**
   * ASYNC (default) or REPLICATED: a drain is acknowledged only once WAIT confirms durable-replicas
   * replicas hold it (README, Durable mode).
   */
  private String durability;

  /** Replicas WAIT must confirm in REPLICATED mode. Default 1. */
  private Integer durableReplicas;

  public String getDrainInterval() {
    return drainInterval;
  }

  public void setDrainInterval(String v) {
    this.drainInterval = v;
  }

  public Integer getMaxPendingCells() {
    return maxPendingCells;
  }

  public void setMaxPendingCells(Integer v) {
    this.maxPendingCells = v;
  }

  public String getOverflow() {
    return overflow;
  }

  public void setOverflow(String v) {
    this.overflow = v;
  }

  public String getBlockTimeout() {
    return blockTimeout;
  }

  public void setBlockTimeout(String v) {
    this.blockTimeout = v;
  }

  public String getCloseTimeout() {
    return closeTimeout;
  }

  public void setCloseTimeout(String v) {
    this.closeTimeout = v;
  }

  public String getDurability() {
    return durability;
  }

  public void setDurability(String v) {
    this.durability = v;
  }

  public Integer getDurableReplicas() {
    return durableReplicas;
  }

  public void setDurableReplicas(Integer v) {
    this.durableReplicas = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "drain-interval", drainInterval);
    SpillwayProperties.put(n, "max-pending-cells", maxPendingCells);
    SpillwayProperties.put(n, "overflow", overflow);
    SpillwayProperties.put(n, "block-timeout", blockTimeout);
    SpillwayProperties.put(n, "close-timeout", closeTimeout);
    SpillwayProperties.put(n, "durability", durability);
    SpillwayProperties.put(n, "durable-replicas", durableReplicas);
  }
}
