package dev.spillway.report;

import dev.spillway.Granularity;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Which bucket rows serve a report's window ({@link Reports}, "Which rows are read"): the coarsest
 * level the counter keeps that lines up with the window, the window widened to whole buckets of it,
 * and the notes a reader needs when the window was widened or starts before rows were rolled up or
 * removed by retention.
 */
final class ReportSpans {
  private final InstantSource clock;

  ReportSpans(InstantSource clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** A resolved window: [from, to) on bucket boundaries of {@code sources.get(0)}. */
  record Span(Instant from, Instant to, List<Granularity> sources) {}

  Span span(CounterLevels cl, ReportRequest r, List<String> notes) {
    Instant now = clock.instant();
    Instant from;
    Instant to;
    Granularity wanted;
    boolean auto = r.granularity().isEmpty();
    if (r.window() instanceof Window.Since s) {
      from = now.minus(s.length());
      to = now;
      wanted = r.granularity().orElseGet(() -> Buckets.auto(s.length()));
    } else {
      Window.Between b = (Window.Between) r.window();
      from = b.from();
      to = b.to();
      wanted =
          r.granularity()
              .orElseGet(
                  () ->
                      Buckets.aligned(
                          Granularity.DAY, List.of(from.atZone(r.zone()), to.atZone(r.zone()))));
    }
    List<Granularity> sources;
    try {
      sources = cl.sources(wanted);
    } catch (IllegalArgumentException e) {
      if (!auto || cl.levels().isEmpty()) {
        throw new IllegalArgumentException(
            "the window of this report needs "
                + wanted
                + " rows or finer"
                + (r.window() instanceof Window.Between
                    ? " (its bounds are " + wanted + " boundaries in UTC)"
                    : "")
                + ", but "
                + r.counter()
                + " keeps "
                + cl.describeLevels()
                + (cl.levels().isEmpty()
                    ? " (its total only; drop the" + " window to read counter_totals)"
                    : ""));
      }
      // Auto-chosen level finer than anything kept: read the finest kept level, widened.
      sources = cl.sources(cl.levels().get(0).granularity());
    }
    Granularity top = sources.get(0);
    Instant f = top.truncate(from);
    Instant t = to;
    if (r.window() instanceof Window.Between && !top.truncate(to).equals(to)) {
      t =
          top.truncate(to)
              .plus(
                  top == Granularity.DAY
                      ? Duration.ofDays(1)
                      : top == Granularity.HOUR ? Duration.ofHours(1) : Duration.ofMinutes(1));
    }
    if (!f.equals(from) || !t.equals(to)) {
      notes.add(
          "window widened to whole "
              + Reports.name(top)
              + "s (UTC): "
              + Reports.TIME.format(f.atZone(r.zone()))
              + " to "
              + Reports.TIME.format(t.atZone(r.zone()))
              + (r.window() instanceof Window.Since ? " (now)" : ""));
    }
    incomplete(cl, top, f, notes);
    return new Span(f, t, sources);
  }

  void incomplete(CounterLevels cl, Granularity level, Instant from, List<String> notes) {
    if (cl.level(level).isEmpty()) {
      return;
    }
    Optional<Instant> horizon = cl.horizon(level, clock.instant());
    if (horizon.isPresent() && from.isBefore(horizon.get())) {
      notes.add(
          level
              + " rows of "
              + cl.counter()
              + " before "
              + horizon.get()
              + " have been rolled"
              + " up or removed (retention "
              + cl.level(level).get().retention()
              + "); the report is"
              + " incomplete before that instant");
    }
  }
}
