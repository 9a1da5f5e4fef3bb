package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Redis connection. */
public class SpillwayRedisProperties {
  /**
   * Redis URI (redis://host:port; rediss:// for TLS); with cluster, comma-separated seed nodes.
   * Default redis://127.0.0.1:6379.
   */
  private String uri;

  /** Time box of each Redis command, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
  private String timeout;

  /** Whether Redis runs as a Redis Cluster. Default false. */
  private Boolean cluster;

  public String getUri() {
    return uri;
  }

  public void setUri(String v) {
    this.uri = v;
  }

  public String getTimeout() {
    return timeout;
  }

  public void setTimeout(String v) {
    this.timeout = v;
  }

  public Boolean getCluster() {
    return cluster;
  }

  public void setCluster(Boolean v) {
    this.cluster = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "uri", uri);
    SpillwayProperties.put(n, "timeout", timeout);
    SpillwayProperties.put(n, "cluster", cluster);
  }
}
