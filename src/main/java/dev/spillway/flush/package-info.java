/**
 * Internal: the exactly-once flush protocol, readable top to bottom: {@code Flusher} claims stripes
 * ({@code StripeClaimer}), reads each batch, applies it to PostgreSQL with its ledger row ({@code
 * store}) and acknowledges it ({@code BatchAcks}); {@code AdoptFlusher} does the same for existing
 * Redis keys. The protocol's own scripts are {@code FlushScripts}.
 *
 * <p>May use {@code store}, {@code layout}, {@code redis}, {@code metrics}, {@code config} and
 * {@code runtime}; never {@code schedule}, {@code worker} or {@code cli}.
 */
package dev.spillway.flush;
