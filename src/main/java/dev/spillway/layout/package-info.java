/**
 * Internal: the names and formats that the client, the flusher, the store and the Lua scripts
 * share: Redis key names ({@code KeyLayout}), the cell field that encodes counter, key and bucket
 * ({@code CellField}), counter-name rules ({@code CounterNames}), and the deltas a cell becomes
 * ({@code CellDelta}, {@code RejectedCell}): one home, so each format is spelled once.
 *
 * <p>Uses nothing of Spillway but the root's value types.
 */
package dev.spillway.layout;
