/**
 * Spillway's API: the entry point {@link dev.spillway.Spillway} and its builder, the configuration
 * record {@link dev.spillway.SpillwayConfig}, the exception root {@link
 * dev.spillway.SpillwayException} with its named exceptions, and the value types the builder takes
 * ({@link dev.spillway.Granularity}, {@link dev.spillway.OverflowPolicy}).
 *
 * <p>The entry point wires every package below it; those packages may use the configuration record,
 * the exceptions and the value types, never the entry point (only {@code cli}, {@code worker} and
 * the integrations do). That is why the root is left out of the architecture test's cycle check,
 * and why the rule that only the top packages reach {@code Spillway} is there instead.
 */
package dev.spillway;
