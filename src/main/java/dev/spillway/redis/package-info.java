/**
 * Internal: connections to Redis (single, seed list or Cluster) and what every protocol needs on
 * them: pipelined replies, error classification, the replication fence, and {@code LuaScript}, the
 * one stateless script wrapper (EVALSHA, falling back to EVAL per call).
 *
 * <p>May use {@code config} and {@code runtime}; never a protocol package.
 */
package dev.spillway.redis;
