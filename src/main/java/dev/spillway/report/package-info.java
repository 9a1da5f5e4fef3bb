/**
 * Internal: reporting on the flushed data: rollups, retention, partitions, and the top-N, window
 * and export reports that {@code spillway report} prints.
 *
 * <p>May use {@code layout}, {@code config} and the root's types; never {@code flush}, {@code
 * worker} or {@code cli}.
 */
package dev.spillway.report;
