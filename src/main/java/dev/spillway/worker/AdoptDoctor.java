package dev.spillway.worker;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.flush.LeftAlone;
import dev.spillway.flush.RedisText;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.worker.Doctor.Line;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The adopt lines of {@code spillway doctor}: for each mapping, a bounded SCAN of its {@code match}
 * pattern (until {@link #SAMPLE} keys are found, the keyspace ends, or {@link #BUDGET} of SCAN
 * calls has passed: a sparse pattern in a large keyspace needs many calls) and the keys among them
 * that adopt runs leave alone, by reason, a few named (escaped). Such keys are someone else's and
 * stay untouched, but each run visits them, and a mapping whose pattern is mostly foreign keys
 * usually means the pattern or the regex is not what was meant. Reads only (SCAN and TYPE); nothing
 * is written.
 */
final class AdoptDoctor extends DoctorLines {
  static final int SAMPLE = 1_000;
  static final Duration BUDGET = Duration.ofSeconds(10);

  /** COUNT per SCAN call at least this: fewer calls for the same part of the keyspace. */
  static final int MIN_COUNT = 1_000;

  private final SpillwayConfig config;

  AdoptDoctor(SpillwayConfig config, List<Line> lines) {
    super(lines);
    this.config = config;
  }

  void run(RedisConnector connector) {
    if (config.adopt().isEmpty()) {
      return;
    }
    try (RedisLink<byte[], byte[]> link = connector.connect(ByteArrayCodec.INSTANCE)) {
      for (AdoptMapping m : config.adopt()) {
        try {
          check(link, m);
        } catch (Exception e) {
          warn(
              "adopt." + m.name(),
              "could not sample keys under " + m.match() + ": " + Doctor.rootMessage(e),
              "run doctor again");
        }
      }
    }
  }

  private void check(RedisLink<byte[], byte[]> link, AdoptMapping m) throws Exception {
    long timeout = Doctor.CONNECT_TIMEOUT.toMillis();
    ScanArgs args = ScanArgs.Builder.matches(m.match()).limit(Math.max(MIN_COUNT, m.scanCount()));
    ScanCursor cursor = ScanCursor.INITIAL;
    List<byte[]> sample = new ArrayList<>();
    long deadline = System.nanoTime() + BUDGET.toNanos();
    boolean finished = false;
    while (sample.size() < SAMPLE && System.nanoTime() - deadline < 0) {
      RedisFuture<KeyScanCursor<byte[]>> f =
          cursor == ScanCursor.INITIAL ? link.async().scan(args) : link.async().scan(cursor, args);
      KeyScanCursor<byte[]> page = f.get(timeout, TimeUnit.MILLISECONDS);
      for (byte[] k : page.getKeys()) {
        if (sample.size() < SAMPLE) {
          sample.add(k);
        }
      }
      cursor = page;
      if (page.isFinished()) {
        finished = true;
        break;
      }
    }
    LeftAlone.Tally tally = new LeftAlone.Tally();
    List<String> candidates = new ArrayList<>();
    for (byte[] raw : sample) {
      String key = RedisText.text(raw);
      if (key == null) {
        tally.notText(raw);
      } else if (!m.keyRegex().matches(key)) {
        tally.notMatchingRegex(key);
      } else {
        candidates.add(key);
      }
    }
    List<RedisFuture<String>> types = new ArrayList<>(candidates.size());
    for (String key : candidates) {
      types.add(link.async().type(key.getBytes(StandardCharsets.UTF_8)));
    }
    String wanted = m.type().name().toLowerCase();
    int adoptable = 0;
    for (int i = 0; i < candidates.size(); i++) {
      String t = types.get(i).get(timeout, TimeUnit.MILLISECONDS);
      if (t.equals(wanted)) {
        adoptable++;
      } else if (!t.equals("none")) {
        tally.wrongType(t, candidates.get(i));
      }
    }
    LeftAlone left = tally.result();
    String check = "adopt." + m.name();
    String scope =
        finished
            ? "of the " + sample.size() + " key(s) under " + m.match()
            : sample.size() >= SAMPLE
                ? "of the first " + sample.size() + " key(s) found under " + m.match()
                : "of the "
                    + sample.size()
                    + " key(s) found under "
                    + m.match()
                    + " in "
                    + BUDGET.toSeconds()
                    + " s of SCAN (part of the keyspace)";
    if (left.total() == 0) {
      ok(
          check,
          sample.isEmpty()
              ? (finished ? "no keys under " + m.match() : scope)
              : scope + ", all " + adoptable + " match key-regex and hold a " + wanted);
    } else {
      warn(
          check,
          scope + ", " + adoptable + " can be adopted; " + left.describe(m.match(), true),
          "those keys are someone else's and adopt never touches them, but every run visits"
              + " them: narrow match to the keys key-regex describes, or widen key-regex if they"
              + " are counters");
    }
  }
}
