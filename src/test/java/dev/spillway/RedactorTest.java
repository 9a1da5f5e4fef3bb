package dev.spillway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.config.Redactor;
import dev.spillway.runtime.Errors;
import dev.spillway.store.Database;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The one redactor: shapes without knowing the secret, literal secrets in every encoding. */
class RedactorTest {
  /** A password with every character that breaks a URL written without percent-encoding. */
  static final String HARD = "S3cr/t,p@ss:w%rd";

  static final String SIMPLE = "hunter2pw";

  static final String HARD_ENCODED = URLEncoder.encode(HARD, StandardCharsets.UTF_8);

  static void assertHidden(String shown, String... secrets) {
    for (String s : secrets) {
      assertThat(shown)
          .doesNotContain(s)
          .doesNotContain(URLEncoder.encode(s, StandardCharsets.UTF_8));
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "redis://:%s@cache.example:6379",
        "redis://app:%s@cache.example:6379/0",
        "rediss://default:%s@cache.example:6380",
        "redis-sentinel://:%s@cache.example:26379,s2:26379/0#mymaster",
        "postgresql://app:%s@cache.example:5432/db",
        "postgres://app:%s@cache.example/db",
        "jdbc:postgresql://app:%s@cache.example:5432/db",
        "redis://%s@cache.example:6379"
      })
  void mask_userinfoInEveryScheme_unencodedHardPassword(String template) {
    String url = template.formatted(HARD);
    String shown = Redactor.mask("cannot reach " + url + ": connection refused");
    assertHidden(shown, HARD, "S3cr", "w%rd");
    assertThat(shown).contains("<masked>@cache.example").endsWith(": connection refused");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "redis://:%s@cache.example:6379",
        "rediss://u:%s@cache.example:6380",
        "redis-sentinel://:%s@cache.example:26379/0#mymaster",
        "postgresql://app:%s@cache.example/db",
        "jdbc:postgresql://app:%s@cache.example/db"
      })
  void mask_userinfoInEveryScheme_encodedPassword(String template) {
    String shown = Redactor.mask("at '" + template.formatted(HARD_ENCODED) + "'");
    assertHidden(shown, HARD);
    assertThat(shown).doesNotContain("S3cr").contains("<masked>@cache.example");
  }

  @Test
  void mask_reportedShapes() {
    assertThat(Redactor.mask("redis://:pa/ss@host")).isEqualTo("redis://<masked>@host");
    assertThat(Redactor.mask("redis://u:pw,x@host")).isEqualTo("redis://<masked>@host");
    assertThat(Redactor.mask("'postgresql://user:" + SIMPLE + "@db.example/app'"))
        .isEqualTo("'postgresql://<masked>@db.example/app'");
    assertThat(
            Redactor.mask(
                "Unable to parse URL jdbc:postgresql://db.example:99999/app?user=u&password="
                    + SIMPLE))
        .isEqualTo(
            "Unable to parse URL jdbc:postgresql://db.example:99999/app?user=u&password=<masked>");
  }

  @Test
  void mask_seedLists() {
    assertThat(Redactor.mask("redis://:" + HARD + "@h1:7101,h2:7102,h3:7103"))
        .isEqualTo("redis://<masked>@h1:7101,h2:7102,h3:7103");
    assertThat(Redactor.mask("redis://:" + SIMPLE + "@h1:7101,redis://u:" + HARD + "@h2:7102"))
        .isEqualTo("redis://<masked>@h1:7101,redis://<masked>@h2:7102");
    assertThat(Redactor.maskUri(":" + HARD + "@h1:7101,h2:7102"))
        .isEqualTo("<masked>@h1:7101,h2:7102");
    assertThat(Redactor.maskUri("h1:7101,u:" + SIMPLE + "@h2:7102")).isEqualTo("<masked>@h2:7102");
  }

  @Test
  void mask_passwordParameters() {
    String url =
        "jdbc:postgresql://db.example/app?user=u&password="
            + HARD
            + "&sslpassword="
            + SIMPLE
            + "&ssl=true";
    String shown = Redactor.mask(url);
    assertHidden(shown, HARD, SIMPLE, "S3cr", "w%rd");
    assertThat(shown)
        .isEqualTo(
            "jdbc:postgresql://db.example/app?user=u&password=<masked>&sslpassword=<masked>&ssl=true");
    assertThat(Redactor.mask("jdbc:postgresql://h/db?password=" + HARD_ENCODED))
        .isEqualTo("jdbc:postgresql://h/db?password=<masked>");
    assertThat(Redactor.mask("access_token=" + SIMPLE + " postgres.password: " + SIMPLE))
        .isEqualTo("access_token=<masked> postgres.password: <masked>");
  }

  @Test
  void mask_leavesOrdinaryTextAndPlaceholders() {
    String plain =
        "redis.uri must be a URI like redis://host:6379 but was 'redis://127.0.0.1:6379'"
            + " postgres.password=<empty> postgres.password=<masked> check SPILLWAY_JDBC_PASSWORD";
    assertThat(Redactor.mask(plain)).isEqualTo(plain);
  }

  @Test
  void redact_isIdempotent() {
    Redactor r = Redactor.of(List.of(HARD, SIMPLE));
    String once = r.redact("redis://:" + HARD + "@h:1 password=" + SIMPLE + " and " + HARD_ENCODED);
    assertThat(r.redact(once)).isEqualTo(once);
  }

  @Test
  void redact_literalSecretsInEveryEncoding() {
    Redactor r = Redactor.of(List.of(HARD, SIMPLE));
    String lowerHex = HARD_ENCODED.toLowerCase(Locale.ROOT).replace("s3cr", "S3cr");
    String text =
        "raw "
            + HARD
            + " form "
            + HARD_ENCODED
            + " lower "
            + lowerHex
            + " simple "
            + SIMPLE
            + " in a word x"
            + SIMPLE
            + "y";
    String shown = r.redact(text);
    assertHidden(shown, HARD, SIMPLE);
    assertThat(shown).doesNotContain("S3cr").doesNotContain(lowerHex);
  }

  @Test
  void redact_decodedFormOfAnEncodedConfiguredSecret() {
    Redactor r = Redactor.of(List.of(HARD_ENCODED));
    assertThat(r.redact("AUTH failed for " + HARD)).isEqualTo("AUTH failed for <masked>");
  }

  @Test
  void of_shortSecretsOnlyByShape() {
    Redactor r = Redactor.of(List.of("abc"));
    assertThat(r.redact("abc redis://:abc@h")).isEqualTo("abc redis://<masked>@h");
  }

  @Test
  void of_configAndEnvironmentSecrets() {
    SpillwayConfig config =
        SpillwayConfig.builder()
            .redisUri(
                "redis://:" + URLEncoder.encode(SIMPLE + "R", StandardCharsets.UTF_8) + "@h:6379")
            .jdbcUrl("jdbc:postgresql://h/db?password=" + SIMPLE + "J")
            .jdbcPassword(HARD)
            .build();
    Map<String, String> env =
        Map.of(
            "SPILLWAY_JDBC_PASSWORD",
            HARD,
            "SPILLWAY_API_TOKEN",
            "tok-" + SIMPLE,
            "SPILLWAY_CACHE_KEYS",
            "1:QUJDREVGR0g=,2:SUpLTE1OT1A=",
            "SPILLWAY_KEY_PREFIX",
            "sw:");
    Redactor r = Redactor.of(config, env);
    String shown =
        r.redact(
            "a "
                + SIMPLE
                + "R b "
                + SIMPLE
                + "J c "
                + HARD
                + " d tok-"
                + SIMPLE
                + " e QUJDREVGR0g= f SUpLTE1OT1A= prefix sw:");
    assertHidden(shown, SIMPLE, HARD, "QUJDREVGR0g=", "SUpLTE1OT1A=");
    assertThat(shown).endsWith("prefix sw:");
    assertThat(config.toString()).doesNotContain(SIMPLE).doesNotContain(HARD);
  }

  @Test
  void secretsIn_unparseableUris() {
    assertThat(Redactor.secretsIn("redis://:" + HARD + "@host")).containsExactly(HARD);
    assertThat(Redactor.secretsIn("redis://u:pw,x@host")).containsExactly("pw,x");
    assertThat(Redactor.secretsIn("redis://" + SIMPLE + "@host")).containsExactly(SIMPLE);
    assertThat(Redactor.secretsIn("jdbc:postgresql://h:99999/db?password=" + HARD + "&ssl=1"))
        .containsExactly(HARD);
    assertThat(Redactor.secretsIn("redis://127.0.0.1:6379")).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "redis://:%s@cache.example:6379",
        "redis://u:%s@cache.example:6379",
        "redis://:%s@cache.example:7101,h2:7102"
      })
  void configBuild_rejectedRedisUriNamesHostNotSecret(String template) {
    for (String password : List.of(HARD, "pa/ss" + SIMPLE, "pw," + SIMPLE)) {
      String uri = template.formatted(password);
      assertThatThrownBy(() -> SpillwayConfig.builder().redisUri(uri).build())
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("redis.uri")
          .satisfies(e -> assertHidden(e.getMessage(), password, SIMPLE, "S3cr", "w%rd"));
    }
  }

  /**
   * A Sentinel URI (accepted since issue 16): unencoded passwords holding {@code / @ %} are refused
   * without echoing them; one holding a comma parses (Lettuce splits the userinfo off first) and is
   * masked in the configuration's text.
   */
  @Test
  void configBuild_sentinelUri_rejectedNamesNoSecret_acceptedIsMasked() {
    String template = "redis-sentinel://:%s@cache.example:26379/0#mymaster";
    for (String password : List.of(HARD, "pa/ss" + SIMPLE)) {
      String uri = template.formatted(password);
      assertThatThrownBy(() -> SpillwayConfig.builder().redisUri(uri).build())
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("redis.uri")
          .satisfies(e -> assertHidden(e.getMessage(), password, SIMPLE, "S3cr", "w%rd"));
    }
    SpillwayConfig ok =
        SpillwayConfig.builder().redisUri(template.formatted("pw," + SIMPLE)).build();
    assertHidden(ok.toString(), "pw," + SIMPLE, SIMPLE);
    assertThat(ok.toString()).contains("redis-sentinel://<masked>@cache.example:26379");
  }

  @Test
  void configBuild_libpqStyleJdbcUrlNamesTheRule() {
    assertThatThrownBy(
            () ->
                SpillwayConfig.builder()
                    .jdbcUrl("postgresql://app:" + HARD + "@db.example/app")
                    .build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("postgres.jdbc-url must start with jdbc:postgresql:")
        .hasMessageContaining("<masked>@db.example/app")
        .satisfies(e -> assertHidden(e.getMessage(), HARD, "S3cr", "w%rd"));
  }

  @Test
  void databaseOpen_badPortKeepsPasswordParameterHidden() {
    SpillwayConfig config =
        SpillwayConfig.builder()
            .jdbcUrl("jdbc:postgresql://127.0.0.1:99999/test?password=" + HARD)
            .jdbcPassword(SIMPLE)
            .build();
    assertThatThrownBy(() -> Database.open(config).close())
        .isInstanceOf(SpillwayException.class)
        .hasMessageContaining("cannot create the PostgreSQL pool for")
        .satisfies(e -> assertHidden(e.getMessage(), HARD, SIMPLE, "S3cr", "w%rd"));
  }

  @Test
  void errorsRootMessage_masksUrlsInDriverMessages() {
    Exception e =
        new RuntimeException(
            "wrapper",
            new IllegalArgumentException(
                "Unable to parse URL jdbc:postgresql://h/db?password=" + HARD));
    assertThat(Errors.rootMessage(e))
        .isEqualTo(
            "IllegalArgumentException: Unable to parse URL"
                + " jdbc:postgresql://h/db?password=<masked>");
  }
}
