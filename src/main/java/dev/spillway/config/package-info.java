/**
 * Internal: configuration below the root's record: the YAML and environment loader, the sections
 * ({@code WorkerSettings}, {@code CacheSettings}, {@code ReportSettings}, {@code AdoptMapping}),
 * the checks every setting goes through ({@code Checks}), durations, masking of secrets ({@code
 * Redactor}) and the logfmt of the effective configuration.
 *
 * <p>Uses only the root's configuration record and exceptions; every other package may use it.
 */
package dev.spillway.config;
