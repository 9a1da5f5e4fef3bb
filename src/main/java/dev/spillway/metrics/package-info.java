/**
 * Internal: the meters of the counter client and the flusher ({@code SpillwayMeters}), registered
 * on the application's Micrometer {@code MeterRegistry} (the builder's {@code meterRegistry}),
 * which is the public metrics interface. Uses nothing of Spillway.
 */
package dev.spillway.metrics;
