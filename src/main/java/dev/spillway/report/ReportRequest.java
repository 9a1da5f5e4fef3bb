package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.config.ExportSettings;
import dev.spillway.config.ExportSettings.Kind;
import dev.spillway.layout.CounterNames;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.Optional;

/**
 * What to report. Built by the CLI from its options, or by an export from its settings.
 *
 * @param key one key, or empty for all keys (series and total); not allowed for top
 * @param granularity series: the bucket size (empty: chosen from the window); top and total: the
 *     level to read (empty: chosen from the window)
 * @param zone day boundaries and printed times
 * @param limit top: how many keys
 */
public record ReportRequest(
    Kind kind,
    String counter,
    Optional<String> key,
    Optional<Granularity> granularity,
    Window window,
    ZoneId zone,
    int limit) {

  public static final int MAX_LIMIT = 100_000;

  public ReportRequest {
    Objects.requireNonNull(kind, "kind");
    if (counter == null) {
      throw new IllegalArgumentException("--counter must be given");
    }
    try {
      CounterNames.checkCounter(counter);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--counter: " + e.getMessage());
    }
    key = key == null ? Optional.empty() : key;
    key.ifPresent(CounterNames::checkKey);
    granularity = granularity == null ? Optional.empty() : granularity;
    Objects.requireNonNull(window, "window");
    zone = zone == null ? ZoneOffset.UTC : zone;
    if (kind == Kind.TOP && key.isPresent()) {
      throw new IllegalArgumentException("--key is not allowed for top (it ranks the keys)");
    }
    if (kind == Kind.SERIES && window instanceof Window.AllTime) {
      throw new IllegalArgumentException("series needs a window: --since 7d, or --from and --to");
    }
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException(
          "--limit must be between 1 and " + MAX_LIMIT + " but was " + limit);
    }
  }

  /** The request an export runs at {@code now}: its report over the previous complete period. */
  static ReportRequest of(ExportSettings e, Instant now) {
    return new ReportRequest(
        e.kind(),
        e.counter(),
        e.key(),
        e.granularity(),
        Window.previous(e.period(), e.zone(), now),
        e.zone(),
        e.limit());
  }
}
