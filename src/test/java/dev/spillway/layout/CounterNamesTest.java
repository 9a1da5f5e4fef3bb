package dev.spillway.layout;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CounterNamesTest {
  @ParameterizedTest
  @ValueSource(strings = {"page_views", "a", "api.calls-v2", "x0123456789"})
  void checkCounter_valid(String name) {
    assertThatCode(() -> CounterNames.checkCounter(name)).doesNotThrowAnyException();
  }

  @ParameterizedTest
  @ValueSource(strings = {"Page Views", "", "1abc", "_x", "a|b", "ünicode", "a b"})
  void checkCounter_invalid_namesTheRule(String name) {
    assertThatThrownBy(() -> CounterNames.checkCounter(name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must match [a-z][a-z0-9_.-]{0,63}");
  }

  @Test
  void checkCounter_tooLong() {
    assertThatThrownBy(() -> CounterNames.checkCounter("a".repeat(65)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatCode(() -> CounterNames.checkCounter("a".repeat(64))).doesNotThrowAnyException();
  }

  @Test
  void checkCounter_null() {
    assertThatThrownBy(() -> CounterNames.checkCounter(null))
        .hasMessage("counter name null must match [a-z][a-z0-9_.-]{0,63}");
  }

  @ParameterizedTest
  @ValueSource(strings = {"42", "user:17", "a|b|c", "日本語", "emoji 😀", "/path?q=1"})
  void checkKey_valid(String key) {
    assertThatCode(() -> CounterNames.checkKey(key)).doesNotThrowAnyException();
  }

  @Test
  void checkKey_controlCharacter_namesItAndItsIndex() {
    assertThatThrownBy(() -> CounterNames.checkKey("ab\ncd"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("without control characters")
        .hasMessageContaining("U+000A")
        .hasMessageContaining("index 2");
    assertThatThrownBy(() -> CounterNames.checkKey("x\u0085")).hasMessageContaining("U+0085");
    assertThatThrownBy(() -> CounterNames.checkKey("x\u007f")).hasMessageContaining("U+007F");
  }

  @Test
  void checkKey_emptyOrNull() {
    assertThatThrownBy(() -> CounterNames.checkKey("")).hasMessageContaining("but was empty");
    assertThatThrownBy(() -> CounterNames.checkKey(null)).hasMessageContaining("but was null");
  }

  @Test
  void checkKey_byteLengthIsUtf8() {
    assertThatCode(() -> CounterNames.checkKey("a".repeat(512))).doesNotThrowAnyException();
    assertThatThrownBy(() -> CounterNames.checkKey("a".repeat(513)))
        .hasMessageContaining("1 to 512 bytes");
    // 171 x 3-byte characters = 513 bytes although only 171 chars
    assertThatThrownBy(() -> CounterNames.checkKey("語".repeat(171)))
        .hasMessageContaining("1 to 512 bytes");
    assertThatCode(() -> CounterNames.checkKey("語".repeat(170))).doesNotThrowAnyException();
  }

  @Test
  void checkKey_unpairedSurrogate() {
    assertThatThrownBy(() -> CounterNames.checkKey("a\uD800b"))
        .hasMessageContaining("unpaired surrogate");
  }
}
