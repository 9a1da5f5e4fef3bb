/**
 * API: {@link dev.spillway.counter.Counters}, the counter client an application increments and
 * reads through ({@code spillway.counters()}). Its implementation is in {@code
 * dev.spillway.client}. Uses nothing of Spillway but the root's exceptions.
 */
package dev.spillway.counter;
