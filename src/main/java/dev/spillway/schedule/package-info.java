/**
 * Internal: the Quartz jobs that run flushes, adopt runs, ledger pruning and dead-letter checks on
 * schedules, alone or clustered over several workers.
 *
 * <p>May use {@code flush} and everything below it; never {@code worker} or {@code cli}.
 */
package dev.spillway.schedule;
