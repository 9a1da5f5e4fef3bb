package dev.spillway.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The L2 envelope and the AES-GCM codec, without servers. */
class EnvelopeTest {
  private static final byte[] K1 = new byte[16];
  private static final byte[] K2 =
      "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private static Envelope sample() {
    Map<String, Long> tags = new LinkedHashMap<>();
    tags.put("team:7", 42L);
    tags.put("org:1", 0L);
    return new Envelope(
        3, false, 1_000L, 25, 61_000L, tags, "{\"id\":1}".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void decode_roundTrip_keepsEveryField() {
    Envelope e = sample();
    Envelope d = Envelope.decode("k", e.encode("k", null), 3, null);
    assertThat(d).isNotNull();
    assertThat(d.schemaVersion()).isEqualTo(3);
    assertThat(d.nullMarker()).isFalse();
    assertThat(d.computedAt()).isEqualTo(1_000L);
    assertThat(d.computeMillis()).isEqualTo(25);
    assertThat(d.freshUntil()).isEqualTo(61_000L);
    assertThat(d.tags()).containsExactly(Map.entry("team:7", 42L), Map.entry("org:1", 0L));
    assertThat(new String(d.payload(), StandardCharsets.UTF_8)).isEqualTo("{\"id\":1}");
  }

  @Test
  void decode_nullMarker() {
    Envelope e = new Envelope(1, true, 1, 0, 2, Map.of(), null);
    Envelope d = Envelope.decode("k", e.encode("k", null), 1, null);
    assertThat(d.nullMarker()).isTrue();
    assertThat(d.payload()).isEmpty();
  }

  @Test
  void decode_otherSchemaVersionOrDamage_isNull() {
    byte[] raw = sample().encode("k", null);
    assertThat(Envelope.decode("k", raw, 4, null)).isNull();
    assertThat(Envelope.decode("k", Arrays.copyOf(raw, raw.length - 1), 3, null)).isNull();
    assertThat(Envelope.decode("k", "not an envelope".getBytes(StandardCharsets.UTF_8), 3, null))
        .isNull();
    raw[0] = 9; // another envelope format
    assertThat(Envelope.decode("k", raw, 3, null)).isNull();
  }

  @Test
  void decode_encrypted_opensOnlyWithKnownKeyAndSameRedisKey() {
    AesGcmCodec old = AesGcmCodec.of("k1", Map.of("k1", K1));
    byte[] sealed = sample().encode("user:1", old);
    assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("\"id\"");
    assertThat(Envelope.decode("user:1", sealed, 3, old).payload()).isEqualTo(sample().payload());
    AesGcmCodec rotated = AesGcmCodec.of("k2", Map.of("k2", K2, "k1", K1));
    assertThat(Envelope.decode("user:1", sealed, 3, rotated))
        .as("old key id still opens")
        .isNotNull();
    AesGcmCodec dropped = AesGcmCodec.of("k2", Map.of("k2", K2));
    assertThat(Envelope.decode("user:1", sealed, 3, dropped)).as("key retired: a miss").isNull();
    assertThat(Envelope.decode("user:2", sealed, 3, old)).as("copied to another key").isNull();
    assertThat(Envelope.decode("user:1", sealed, 3, null)).as("encrypted, reader not").isNull();
    assertThat(Envelope.decode("user:1", sample().encode("user:1", null), 3, old))
        .as("plain entry, reader requires encryption")
        .isNull();
    byte[] tampered = sealed.clone();
    tampered[tampered.length - 1] ^= 1;
    assertThat(Envelope.decode("user:1", tampered, 3, old)).isNull();
    byte[] otherExpiry = sealed.clone();
    otherExpiry[25] ^= 1; // a byte of the fresh-until header field: authenticated
    assertThat(Envelope.decode("user:1", otherExpiry, 3, old)).isNull();
  }

  @Test
  void fromEnvironment_parsesRotationListAndRefusesBadInput() {
    String b64 = Base64.getEncoder().encodeToString(K2);
    AesGcmCodec c =
        AesGcmCodec.fromEnvironment(
            Map.of("KEYS", "new:" + b64 + ", old:" + Base64.getEncoder().encodeToString(K1)),
            "KEYS");
    assertThat(c.activeKeyId()).isEqualTo("new");
    assertThat(c.toString()).doesNotContain(b64);
    assertThatThrownBy(() -> AesGcmCodec.fromEnvironment(Map.of(), "KEYS"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("KEYS");
    assertThatThrownBy(() -> AesGcmCodec.fromEnvironment(Map.of("KEYS", "a:AAAA"), "KEYS"))
        .hasMessage("cache encryption key 'a' must be 16, 24 or 32 bytes but was 3 bytes");
    assertThatThrownBy(() -> AesGcmCodec.fromEnvironment(Map.of("KEYS", "nocolon"), "KEYS"))
        .hasMessageContaining("id:base64key");
  }
}
