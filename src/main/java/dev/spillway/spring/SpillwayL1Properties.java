package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The in-process cache (L1). */
public class SpillwayL1Properties {
  /** Entries per cache in each instance's L1; zero disables L1. Default 10000. */
  private Integer maxSize;

  /** Longest life of an L1 entry, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 10s. */
  private String ttl;

  public Integer getMaxSize() {
    return maxSize;
  }

  public void setMaxSize(Integer v) {
    this.maxSize = v;
  }

  public String getTtl() {
    return ttl;
  }

  public void setTtl(String v) {
    this.ttl = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "max-size", maxSize);
    SpillwayProperties.put(n, "ttl", ttl);
  }
}
