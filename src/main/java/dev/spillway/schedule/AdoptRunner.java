package dev.spillway.schedule;

import dev.spillway.flush.FlushReport;

/**
 * Runs one adopt mapping once (recover leftovers, SCAN and move the matching keys, apply, ack):
 * {@code Spillway::adoptOnce}. An interface so that this package does not depend on the runtime
 * that owns it.
 */
@FunctionalInterface
public interface AdoptRunner {
  FlushReport adoptOnce(String mapping);
}
