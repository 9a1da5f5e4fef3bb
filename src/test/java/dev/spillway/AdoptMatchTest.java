package dev.spillway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.cli.Main;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.CacheSettings;
import dev.spillway.config.ConfigLoader;
import dev.spillway.config.KeyRegex;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 12: an adopt {@code match} that could SCAN up Spillway's own keys (under keys.prefix or the
 * cache prefix) or every key is refused when the configuration loads, naming the setting and the
 * rule; the CLI exits 2 as for every configuration mistake.
 */
class AdoptMatchTest {
  @TempDir Path dir;

  private static AdoptMapping mapping(String match) {
    return mapping("views", match);
  }

  private static AdoptMapping mapping(String name, String match) {
    return new AdoptMapping(
        name,
        match,
        KeyRegex.compile("views:(?<id>[0-9]+)"),
        AdoptMapping.Type.STRING,
        "UPDATE pages SET n = n + :delta WHERE id = :id",
        null,
        null,
        null,
        null,
        100);
  }

  private static SpillwayConfig config(String keysPrefix, String match) {
    return SpillwayConfig.builder()
        .keyPrefix(keysPrefix)
        .adopt(mapping("first", "views:*"))
        .adopt(mapping(match))
        .build();
  }

  @ParameterizedTest
  @ValueSource(strings = {"*", "?*", "**", "[a-z]*", "?", "[sv]w:*", "\\*"})
  void build_matchStartsWithWildcard_refused(String match) {
    if (match.equals("\\*")) {
      // an escaped star is a literal part: "*" itself, no overlap with "sw:"
      assertThat(config("sw:", match).adopt()).hasSize(2);
      return;
    }
    assertThatThrownBy(() -> config("sw:", match))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "adopt[1].match \""
                + match
                + "\" (mapping 'views') must start with a literal"
                + " part that cannot match Spillway's own keys (keys.prefix \"sw:\", cache prefix"
                + " \"sw:c:\"): it starts with a wildcard, so it could match any key");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"sw:*", "s*", "sw*", "sw:{1}:live", "sw:c:page:*", "sw:views:*", "sw\\:*"})
  void build_matchOverlapsKeysPrefix_refused(String match) {
    assertThatThrownBy(() -> config("sw:", match))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            "adopt[1].match \""
                + match
                + "\" (mapping 'views') must start with a literal part that cannot match Spillway's"
                + " own keys (keys.prefix \"sw:\", cache prefix \"sw:c:\")")
        .hasMessageContaining("overlaps keys.prefix \"sw:\"");
  }

  @Test
  void build_matchOverlapsCachePrefix_refused() {
    assertThatThrownBy(
            () ->
                SpillwayConfig.builder()
                    .keyPrefix("sw:")
                    .cache(CacheSettings.builder().prefix("cache:").build())
                    .adopt(mapping("cache:page:*"))
                    .build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("adopt[0].match \"cache:page:*\"")
        .hasMessageContaining("cache prefix \"cache:\"")
        .hasMessageContaining("overlaps cache prefix \"cache:\"");
  }

  @ParameterizedTest
  @ValueSource(strings = {"views:*", "app:views:*", "s:*", "swx:*", "t*", "app:[0-9]*"})
  void build_matchWithOwnLiteralPart_accepted(String match) {
    assertThat(config("sw:", match).adopt().get(1).match()).isEqualTo(match);
  }

  @Test
  void literalPrefix_escapesAndWildcards() {
    assertThat(AdoptMapping.literalPrefix("app:views:*")).isEqualTo("app:views:");
    assertThat(AdoptMapping.literalPrefix("a\\*b?c")).isEqualTo("a*b");
    assertThat(AdoptMapping.literalPrefix("[ab]*")).isEmpty();
    assertThat(AdoptMapping.literalPrefix("exact")).isEqualTo("exact");
  }

  @Test
  void load_yamlMatchEverything_refusedNamingSetting() throws IOException {
    Path file = dir.resolve("spillway.yaml");
    Files.writeString(
        file,
        """
        adopt:
          - name: page-views
            match: "*"
            key-regex: "app:views:(?<page_id>[0-9]+)"
            sql: "UPDATE pages SET n = n + :delta WHERE id = :page_id"
        """);
    assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            "adopt[0].match \"*\" (mapping 'page-views') must start with a literal part that cannot"
                + " match Spillway's own keys (keys.prefix \"sw:\", cache prefix \"sw:c:\")");
  }

  @Test
  void main_flushWithMatchOverlappingKeysPrefix_exits2WithTheSentence() throws IOException {
    Path file = dir.resolve("spillway.yaml");
    Files.writeString(
        file,
        """
        keys:
          prefix: "app:"
        adopt:
          - name: page-views
            match: "app:*"
            key-regex: "app:views:(?<page_id>[0-9]+)"
            sql: "UPDATE pages SET n = n + :delta WHERE id = :page_id"
        """);
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    int code;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      code = Main.execute("flush", "--once", "-c", file.toString());
    } finally {
      System.setErr(saved);
    }
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains(
            "spillway: adopt[0].match \"app:*\" (mapping 'page-views') must start with a literal"
                + " part")
        .contains("overlaps keys.prefix \"app:\"")
        .doesNotContain("Exception");
  }
}
