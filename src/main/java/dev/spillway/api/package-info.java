/**
 * Internal: the public HTTP API the worker serves when {@code api.enabled} (Jetty 12, virtual
 * threads): counter reads with CDN-friendly cache headers, top-N reports, token-guarded and
 * anonymous increments, CORS and a per-client rate limit. Its settings are {@code
 * config.ApiSettings}.
 *
 * <p>May use the root's entry point, {@code counter}, {@code cache} (the cached view), {@code
 * report}, {@code layout} and {@code config}; only {@code worker} starts it.
 */
package dev.spillway.api;
