package dev.spillway.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Figure 0: the in-process increment path under JMH, short settings to fit {@code make bench}. */
final class Jmh {
  private Jmh() {}

  static List<BenchResult> increment(int threads) throws Exception {
    Collection<RunResult> runs =
        new Runner(
                new OptionsBuilder()
                    .include("dev.spillway.client.IncrementBenchmark")
                    .threads(threads)
                    .forks(1)
                    .warmupIterations(2)
                    .warmupTime(TimeValue.seconds(1))
                    .measurementIterations(3)
                    .measurementTime(TimeValue.seconds(2))
                    .jvmArgsAppend("-Xmx1g")
                    .build())
            .run();
    String g = "0. in-process increment path, JMH (1k keys, " + threads + " threads)";
    BenchResult spillway = null;
    List<BenchResult> peers = new ArrayList<>();
    for (RunResult r : runs) {
      String name = r.getParams().getBenchmark().replaceAll(".*\\.", "");
      double score = r.getPrimaryResult().getScore();
      BenchResult b =
          BenchResult.of(g, name, score, "ops/s")
              .note(
                  String.format(
                      Locale.ROOT, "+- %.0f (99.9%%)", r.getPrimaryResult().getScoreError()));
      if (name.equals("spillwayIncrement")) {
        spillway = b;
      } else {
        peers.add(b);
      }
    }
    List<BenchResult> out = new ArrayList<>();
    for (BenchResult p : peers) {
      out.add(
          BenchResult.of(g, "spillwayIncrement vs " + p.name(), spillway.value(), "ops/s")
              .against(p, null));
    }
    out.add(spillway);
    out.addAll(peers);
    return out;
  }
}
