package dev.spillway.config;

import dev.spillway.SpillwayConfig;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The effective configuration of a {@link SpillwayConfig} as a tree in YAML's shape: the core
 * sections ({@link CoreSettings#effective}), then {@code counters}, {@code adopt}, {@code worker},
 * {@code reporting}, {@code cache} and {@code api}, each section's keys in order, durations as
 * {@code 5s}, schedules as written and secrets masked ({@link Redactor}). It is what the runtime
 * logs once at start, as logfmt ({@code SpillwayConfig.toString()}, through {@link Logfmt}) or, in
 * the worker's JSON format, as nested objects.
 */
public final class EffectiveConfig {
  private EffectiveConfig() {}

  /** The tree of {@code config}, secrets masked. */
  public static Map<String, Object> of(SpillwayConfig config) {
    Redactor redactor = Redactor.of(config);
    Map<String, Object> root = CoreSettings.effective(config, redactor);
    Map<String, Object> levels = new LinkedHashMap<>();
    config
        .counters()
        .forEach(
            (name, set) ->
                levels.put(
                    name, set.stream().map(g -> g.name().toLowerCase(Locale.ROOT)).toList()));
    root.put("counters", levels);
    root.put("adopt", config.adopt().stream().map(AdoptMapping::name).toList());
    root.put("worker", config.worker().effective());
    root.put("reporting", config.reporting().effective());
    root.put("cache", config.cache().effective());
    root.put("api", config.api().effective());
    return root;
  }
}
