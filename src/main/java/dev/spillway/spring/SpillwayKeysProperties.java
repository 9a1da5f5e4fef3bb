package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Redis key layout. */
public class SpillwayKeysProperties {
  /** Prefix of every Redis key Spillway writes. Default sw:. */
  private String prefix;

  /**
   * Number of stripes (hash slots of the write-behind buffer). Default 4096; the worker must use
   * the same.
   */
  private Integer stripes;

  public String getPrefix() {
    return prefix;
  }

  public void setPrefix(String v) {
    this.prefix = v;
  }

  public Integer getStripes() {
    return stripes;
  }

  public void setStripes(Integer v) {
    this.stripes = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "prefix", prefix);
    SpillwayProperties.put(n, "stripes", stripes);
  }
}
