/**
 * Internal: what every part of a running runtime shares: its failure latch ({@code RuntimeFailure},
 * the first Error on one of its threads) and how a failure is named in one log field ({@code
 * Errors}).
 *
 * <p>Uses only {@code config} and the root's exceptions.
 */
package dev.spillway.runtime;
