package dev.spillway.cache;

/**
 * The caller's database write for {@link CacheAside#writeThrough}: writes, and returns the value
 * the key now has (null if the row is gone), usually from the same statement ({@code UPDATE ...
 * RETURNING}). Whatever it throws, {@code writeThrough} rethrows unchanged, checked or not, after
 * invalidating the key.
 *
 * @param <X> the checked exception it may throw (inferred from the lambda; {@code RuntimeException}
 *     when none)
 */
@FunctionalInterface
public interface CacheWriter<V, X extends Exception> {
  V write() throws X;
}
