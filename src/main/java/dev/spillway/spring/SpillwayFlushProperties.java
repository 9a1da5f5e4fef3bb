package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Flushing Redis into PostgreSQL inside this application (normally the worker does it). */
public class SpillwayFlushProperties {
  /** Whether this application flushes on a schedule itself. Default false. */
  private Boolean enabled;

  /** Flush interval when enabled, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 1s. */
  private String interval;

  /** Cells per PostgreSQL transaction. Default 50000. */
  private Integer maxCellsPerTransaction;

  /** Batches a stripe may hold before its writers wait. Default 4. */
  private Integer maxPendingBatchesPerStripe;

  /** Transactions a flush run applies at once, one pooled connection each. Default 2. */
  private Integer applyConnections;

  public Boolean getEnabled() {
    return enabled;
  }

  public void setEnabled(Boolean v) {
    this.enabled = v;
  }

  public String getInterval() {
    return interval;
  }

  public void setInterval(String v) {
    this.interval = v;
  }

  public Integer getMaxCellsPerTransaction() {
    return maxCellsPerTransaction;
  }

  public void setMaxCellsPerTransaction(Integer v) {
    this.maxCellsPerTransaction = v;
  }

  public Integer getMaxPendingBatchesPerStripe() {
    return maxPendingBatchesPerStripe;
  }

  public void setMaxPendingBatchesPerStripe(Integer v) {
    this.maxPendingBatchesPerStripe = v;
  }

  public Integer getApplyConnections() {
    return applyConnections;
  }

  public void setApplyConnections(Integer v) {
    this.applyConnections = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "enabled", enabled);
    SpillwayProperties.put(n, "interval", interval);
    SpillwayProperties.put(n, "max-cells-per-transaction", maxCellsPerTransaction);
    SpillwayProperties.put(n, "max-pending-batches-per-stripe", maxPendingBatchesPerStripe);
    SpillwayProperties.put(n, "apply-connections", applyConnections);
  }
}
