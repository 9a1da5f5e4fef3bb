/**
 * Internal: the standalone worker process: its HTTP endpoint (metrics, health), logging set-up,
 * signals, {@code doctor} checks, and the wiring of schedules, reports and the runtime.
 *
 * <p>May use every package but {@code cli}.
 */
package dev.spillway.worker;
