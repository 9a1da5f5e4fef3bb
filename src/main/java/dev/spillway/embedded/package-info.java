/**
 * Internal: local Redis and PostgreSQL for the demo and the test fixture: {@link
 * dev.spillway.embedded.LocalServices} uses the servers that already answer and starts embedded
 * ones (binaries shipped as Maven artifacts) for the rest, so a first {@code spillway demo} works
 * on a machine with nothing installed.
 *
 * <p>Nothing here is meant for production: the embedded servers keep their data in a temporary
 * folder that is deleted on close, and PostgreSQL runs with {@code fsync} off.
 */
package dev.spillway.embedded;
