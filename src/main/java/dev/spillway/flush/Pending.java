package dev.spillway.flush;

/** A claimed batch of one stripe, not yet acknowledged. */
record Pending(int stripe, String batchId) {}
