/**
 * Internal: PostgreSQL: the pool and migrations ({@code Database}), the apply of a batch's cells
 * with its ledger row in one transaction ({@code CounterStore}), adopt's table and SQL mappings
 * ({@code AdoptStore}), and the dead-letter table.
 *
 * <p>May use {@code layout}, {@code metrics}, {@code config} and {@code runtime}; never {@code
 * flush}, {@code client}, {@code counter} or {@code cache}.
 */
package dev.spillway.store;
