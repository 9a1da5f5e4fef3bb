package dev.spillway.client;

import dev.spillway.layout.CounterNames;
import dev.spillway.layout.KeyLayout;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The in-process half of {@code increment()}: key validation, the cell name, the stripe, and the
 * add to the local buffer, against the two obvious ways to count in a map. No Redis involved; the
 * end-to-end figures are in {@code dev.spillway.bench.BenchMain}.
 *
 * <p>Run: {@code make bench} (figure 0), or {@code java -cp
 * target/classes:target/test-classes:$(cat target/bench-classpath.txt) org.openjdk.jmh.Main
 * IncrementBenchmark -t 2 -f 1 -wi 2 -i 3}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class IncrementBenchmark {
  private static final int KEYS = 1000;
  private final String[] keys = new String[KEYS];
  private final KeyLayout layout = new KeyLayout("sw:", 4096);
  private CellBuffer buffer;
  private ConcurrentHashMap<String, LongAdder> adders;
  private ConcurrentHashMap<String, AtomicLong> atomics;

  @Setup(Level.Iteration)
  public void setUp() {
    for (int i = 0; i < KEYS; i++) {
      keys[i] = Integer.toString(i);
    }
    buffer = new CellBuffer();
    adders = new ConcurrentHashMap<>();
    atomics = new ConcurrentHashMap<>();
  }

  /** What increment("page_views", key) does before Redis: check, name, stripe, add. */
  @Benchmark
  public void spillwayIncrement() {
    String key = keys[ThreadLocalRandom.current().nextInt(KEYS)];
    CounterNames.checkKey(key);
    buffer.add("page_views||" + key, layout.stripeOf("page_views", key), 1);
  }

  /** A map of LongAdder, no validation (and no way to drain it without losing adds). */
  @Benchmark
  public void longAdderMap() {
    String key = keys[ThreadLocalRandom.current().nextInt(KEYS)];
    adders.computeIfAbsent("page_views||" + key, k -> new LongAdder()).increment();
  }

  /** A map of AtomicLong, no validation. */
  @Benchmark
  public void atomicLongMap() {
    String key = keys[ThreadLocalRandom.current().nextInt(KEYS)];
    atomics.computeIfAbsent("page_views||" + key, k -> new AtomicLong()).incrementAndGet();
  }
}
