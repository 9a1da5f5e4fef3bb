package dev.spillway.report;

import dev.spillway.Granularity;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Per counter and granularity, the instant before which rows may be removed. */
final class Cutoffs {
  private final BucketPolicy policy;
  private final Instant now;
  private final Map<String, Instant> marks;

  /**
   * @param marks {@code rollup_marks} by "counter/code"
   */
  Cutoffs(BucketPolicy policy, Instant now, Map<String, Instant> marks) {
    this.policy = policy;
    this.now = now;
    this.marks = marks;
  }

  /** Empty when rows of {@code counter} at {@code g} are never removed here. */
  Optional<Instant> of(String counter, Granularity g) {
    Optional<CounterLevels> cl = policy.configured(counter);
    if (cl.isPresent() && cl.get().level(g).isPresent()) {
      if (cl.get().fate(g) != CounterLevels.Fate.DISCARD) {
        return Optional.empty();
      }
      Optional<Instant> h = cl.get().horizon(g, now);
      Optional<Instant> mark = mark(cl.get(), g);
      return mark.isPresent() && h.isPresent() && mark.get().isBefore(h.get()) ? mark : h;
    }
    return byDefault(g);
  }

  /**
   * When the next coarser level is written by the flusher now but was rolled up before (a mark
   * exists), finer rows from the mark on were never rolled into it: they are not duplicates.
   */
  private Optional<Instant> mark(CounterLevels cl, Granularity g) {
    Optional<CounterLevels.Level> up = cl.coarser(g);
    if (up.isEmpty() || up.get().source() != CounterLevels.Source.FLUSH) {
      return Optional.empty();
    }
    return Optional.ofNullable(marks.get(cl.counter() + "/" + up.get().granularity().code()));
  }

  /** One sentence per level whose removal a mark holds back. */
  List<String> heldBack() {
    List<String> out = new ArrayList<>();
    for (CounterLevels cl : policy.all().values()) {
      for (CounterLevels.Level l : cl.levels()) {
        Optional<Instant> mark =
            cl.fate(l.granularity()) == CounterLevels.Fate.DISCARD
                ? mark(cl, l.granularity())
                : Optional.empty();
        Optional<Instant> h = cl.horizon(l.granularity(), now);
        if (mark.isPresent() && h.isPresent() && mark.get().isBefore(h.get())) {
          Granularity up = cl.coarser(l.granularity()).orElseThrow().granularity();
          out.add(
              cl.counter()
                  + ": "
                  + l.granularity()
                  + " rows from "
                  + mark.get()
                  + " on are"
                  + " kept past their retention: "
                  + up
                  + " is written by the flusher now but was"
                  + " rolled up before (rollup_marks), so these rows were never counted in "
                  + up
                  + ". See \"Changing a counter's levels\" in the README");
        }
      }
    }
    return out;
  }

  /** For counters not configured, or levels a counter no longer keeps. */
  Optional<Instant> byDefault(Granularity g) {
    return policy.defaults().get(g).period().map(d -> g.truncate(now.minus(d)));
  }

  boolean allExpired(List<String> counters, Granularity g, Instant end) {
    for (String counter : counters) {
      Optional<Instant> c = of(counter, g);
      if (c.isEmpty() || end.isAfter(c.get())) {
        return false;
      }
    }
    return true;
  }

  /**
   * The latest cutoff at {@code g} over every rule: ranges starting after it have nothing to
   * remove.
   */
  Optional<Instant> latest(Granularity g) {
    Optional<Instant> best = byDefault(g);
    for (String counter : policy.all().keySet()) {
      Optional<Instant> c = of(counter, g);
      if (c.isPresent() && (best.isEmpty() || c.get().isAfter(best.get()))) {
        best = c;
      }
    }
    return best;
  }

  /**
   * The earliest horizon over every level of every counter, defaults included: a range ending
   * before it can only ever hold removable rows. Empty when some level is kept forever.
   */
  Optional<Instant> everyLevelExpired() {
    Instant min = Instant.MAX;
    for (Granularity g : Granularity.values()) {
      Optional<Instant> d = byDefault(g);
      if (d.isEmpty()) {
        return Optional.empty();
      }
      min = d.get().isBefore(min) ? d.get() : min;
    }
    for (Map.Entry<String, CounterLevels> e : policy.all().entrySet()) {
      for (CounterLevels.Level l : e.getValue().levels()) {
        Optional<Instant> h = e.getValue().horizon(l.granularity(), now);
        if (h.isEmpty()) {
          return Optional.empty();
        }
        min = h.get().isBefore(min) ? h.get() : min;
      }
    }
    return Optional.of(min);
  }
}
