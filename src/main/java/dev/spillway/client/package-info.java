/**
 * Internal: the counter client behind {@link dev.spillway.counter.Counters}: the striped local
 * buffer ({@code CellBuffer}), the drain thread that sends it to Redis in idempotent packets
 * ({@code RedisDrainer}, its Lua scripts in {@code Scripts}) and the exact read.
 *
 * <p>May use {@code counter} (the interface it implements), {@code store} (the flushed total of an
 * exact read), {@code layout}, {@code redis}, {@code metrics}, {@code config}, {@code runtime}.
 */
package dev.spillway.client;
