/**
 * Internal: what the counter client and the flusher report ({@code SpillwayMetrics}: one method per
 * event, a no-op default) and its Micrometer implementation ({@code SpillwayMeters}), registered on
 * the application's Micrometer {@code MeterRegistry} (the builder's {@code meterRegistry}), which
 * is the public metrics interface; {@code PhaseTimer}, the flush's phase clock that the store
 * reports to. Uses nothing of Spillway: every package may report here.
 */
package dev.spillway.metrics;
