/**
 * Internal: the {@code spillway} command line (picocli), one class per command. The top of the
 * graph: it may use every package, and nothing uses it.
 */
package dev.spillway.cli;
