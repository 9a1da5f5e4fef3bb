package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link RedisText}: which keys adopt treats as text, and the escaped rendering of the rest. */
class AdoptTextTest {
  @Test
  void text_validUtf8WithoutControls_decoded() {
    assertThat(RedisText.text(b("app:views:42"))).isEqualTo("app:views:42");
    assertThat(RedisText.text(b("stats:caf\u00e9:\u2603"))).isEqualTo("stats:caf\u00e9:\u2603");
    assertThat(RedisText.text(new byte[0])).isEmpty();
  }

  @Test
  void text_invalidUtf8OrControls_null() {
    assertThat(RedisText.text(new byte[] {'a', (byte) 0xff})).isNull();
    assertThat(RedisText.text(new byte[] {'a', (byte) 0xc3})).isNull(); // truncated sequence
    assertThat(RedisText.text(new byte[] {(byte) 0xc0, (byte) 0xaf})).isNull(); // overlong '/'
    assertThat(RedisText.text(new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80}))
        .isNull(); // surrogate
    assertThat(RedisText.text(b("a\u0000b"))).isNull();
    assertThat(RedisText.text(b("a\nb"))).isNull();
    assertThat(RedisText.text(b("a\u0085b"))).isNull(); // C1 control
  }

  @Test
  void escape_controlsInvalidBytesAndBackslash_readableAndUnambiguous() {
    assertThat(RedisText.escape(new byte[] {'v', ':', (byte) 0xff})).isEqualTo("v:\\xff");
    assertThat(RedisText.escape(b("a\u0000\u001b\u007fb"))).isEqualTo("a\\x00\\x1b\\x7fb");
    assertThat(RedisText.escape(b("a\\xff")))
        .isEqualTo("a\\\\xff"); // a literal backslash stays distinct
    assertThat(RedisText.escape(b("caf\u00e9 \uD83D\uDE00"))).isEqualTo("caf\u00e9 \uD83D\uDE00");
    assertThat(RedisText.escape(b("a\u0085"))).isEqualTo("a\\xc2\\x85");
    assertThat(RedisText.escape(new byte[] {(byte) 0xe2, (byte) 0x82})).isEqualTo("\\xe2\\x82");
    assertThat(RedisText.escape(new byte[] {(byte) 0xc0, (byte) 0xaf})).isEqualTo("\\xc0\\xaf");
    assertThat(RedisText.escape(new byte[0])).isEmpty();
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
