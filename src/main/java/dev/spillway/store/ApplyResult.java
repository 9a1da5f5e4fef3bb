package dev.spillway.store;

import java.util.Set;

/**
 * Outcome of one apply transaction: batches applied now, batches the ledger already held (applied
 * by an earlier or concurrent flusher; safe to acknowledge), and the rows written.
 */
public record ApplyResult(
    Set<String> applied, Set<String> duplicates, int totalRows, int bucketRows, int deadLetters) {}
