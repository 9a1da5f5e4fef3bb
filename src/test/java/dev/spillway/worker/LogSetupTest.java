package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One line per event, key=value or JSON. */
class LogSetupTest {
  // A context of its own: the shared one may still be initializing in a parallel test class.
  private static final ch.qos.logback.classic.Logger LOGGER =
      new LoggerContext().getLogger("dev.spillway.flush.Flusher");

  private static LoggingEvent event(String message, Throwable t) {
    return new LoggingEvent("x", LOGGER, Level.WARN, message, t, null);
  }

  @Test
  void keyValues_parse_pairsQuotedValuesAndTrailingText() {
    assertThat(
            KeyValues.parse("event=flush batches=3 error=\"PSQLException: gone \\\"away\\\"\" ok"))
        .containsExactly(
            Map.entry("event", "flush"),
            Map.entry("batches", "3"),
            Map.entry("error", "PSQLException: gone \"away\""),
            Map.entry("msg", "ok"));
    assertThat(KeyValues.parse("Connection refused"))
        .containsExactly(Map.entry("msg", "Connection refused"));
  }

  @Test
  void keyValues_quote_roundTrips() {
    for (String v :
        new String[] {"plain", "two words", "a=b", "quote\"d", "line\nbreak", "back\\slash", ""}) {
      assertThat(KeyValues.parse("k=" + KeyValues.quote(v))).containsEntry("k", v);
    }
  }

  @Test
  void keyValueLayout_oneLinePerEvent_withStackTraceEscaped() {
    String line =
        new LogSetup.KeyValueLayout()
            .doLayout(
                event(
                    "event=apply_failed batches=2 error=\"timeout\"",
                    new IllegalStateException("boom")));

    assertThat(line).endsWith("\n");
    assertThat(line.strip()).doesNotContain("\n");
    assertThat(line)
        .startsWith("ts=")
        .contains(" level=WARN logger=Flusher thread=")
        .contains(
            " event=apply_failed batches=2 error=timeout"
                + " exception=\"java.lang.IllegalStateException: boom\\n");
    assertThat(KeyValues.parse(line.strip()))
        .containsEntry("event", "apply_failed")
        .containsKey("exception");
  }

  @Test
  void keyValueLayout_plainSentence_becomesMsg() {
    String line = new LogSetup.KeyValueLayout().doLayout(event("Pool is starting", null));

    assertThat(line).contains(" msg=\"Pool is starting\"");
  }

  @Test
  void jsonLayout_fieldsFromThePairs_integersAsNumbers() throws Exception {
    String line =
        new LogSetup.JsonLayout()
            .doLayout(event("event=flush batches=3 lag=1.5 level=x note=\"a b\"", null));

    assertThat(line).endsWith("\n");
    JsonNode json = new ObjectMapper().readTree(line);
    assertThat(json.path("level").asText()).isEqualTo("WARN");
    assertThat(json.path("logger").asText()).isEqualTo("Flusher");
    assertThat(json.path("event").asText()).isEqualTo("flush");
    assertThat(json.path("batches").isIntegralNumber()).isTrue();
    assertThat(json.path("lag").asText()).isEqualTo("1.5");
    assertThat(json.path("msg_level").asText()).isEqualTo("x");
    assertThat(json.path("note").asText()).isEqualTo("a b");
    assertThat(json.path("ts").asText()).endsWith("Z");
  }
}
