package dev.spillway.cache;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one cache entry holds in Redis (L2): the serialized value or a null marker, plus when it was
 * computed, how long computing took (XFetch needs it), until when it is fresh, the schema version
 * of the value's class, and the versions of the tags it was written under.
 *
 * <pre>
 *   u8  format (1)         u8  flags (1 = null marker, 2 = encrypted)
 *   i32 schema version     i64 computed at (epoch ms)   i32 compute time (ms)
 *   i64 fresh until (epoch ms)
 *   u16 tag count, then per tag: u16 length, UTF-8 name, i64 version
 *   [u8 length, key id]    if encrypted
 *   i32 length, payload    (AES-GCM over the value when encrypted; empty for the null marker)
 * </pre>
 *
 * <p>Anything unexpected (another format, another schema version, a truncated or altered entry, an
 * unknown key id) decodes as {@code null}: a miss, never an exception in a reader. That is what
 * lets a deployment change a value class by bumping its schema version while old instances still
 * run.
 */
record Envelope(
    int schemaVersion,
    boolean nullMarker,
    long computedAt,
    int computeMillis,
    long freshUntil,
    Map<String, Long> tags,
    byte[] payload) {

  static final int FORMAT = 1;
  private static final int NULL_MARKER = 1;
  private static final int ENCRYPTED = 2;

  Envelope {
    tags = tags == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(tags));
    payload = payload == null ? new byte[0] : payload;
  }

  byte[] encode(String redisKey, AesGcmCodec codec) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + payload.length);
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(FORMAT);
      out.writeByte((nullMarker ? NULL_MARKER : 0) | (codec != null ? ENCRYPTED : 0));
      out.writeInt(schemaVersion);
      out.writeLong(computedAt);
      out.writeInt(computeMillis);
      out.writeLong(freshUntil);
      out.writeShort(tags.size());
      for (var t : tags.entrySet()) {
        byte[] name = t.getKey().getBytes(StandardCharsets.UTF_8);
        out.writeShort(name.length);
        out.write(name);
        out.writeLong(t.getValue());
      }
      byte[] body = payload;
      if (codec != null) {
        byte[] id = codec.activeKeyId().getBytes(StandardCharsets.US_ASCII);
        out.writeByte(id.length);
        out.write(id);
        out.flush();
        body = codec.seal(aad(redisKey, bytes.toByteArray()), payload);
      }
      out.writeInt(body.length);
      out.write(body);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory cannot fail", e);
    }
  }

  /**
   * The envelope in {@code raw}, or null when it is not one this reader can use: another format or
   * schema version, damaged, encrypted when no codec is configured or plain when one is, or sealed
   * by an unknown key.
   */
  static Envelope decode(String redisKey, byte[] raw, int expectedSchema, AesGcmCodec codec) {
    if (raw == null || raw.length < 2 || raw[0] != FORMAT) {
      return null;
    }
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(raw));
      in.readByte();
      int flags = in.readUnsignedByte();
      int schema = in.readInt();
      if (schema != expectedSchema) {
        return null;
      }
      long computedAt = in.readLong();
      int computeMillis = in.readInt();
      long freshUntil = in.readLong();
      int n = in.readUnsignedShort();
      Map<String, Long> tags = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        byte[] name = new byte[in.readUnsignedShort()];
        in.readFully(name);
        tags.put(new String(name, StandardCharsets.UTF_8), in.readLong());
      }
      boolean encrypted = (flags & ENCRYPTED) != 0;
      if (encrypted != (codec != null)) {
        return null; // an unencrypted entry must not satisfy a cache configured to encrypt
      }
      String keyId = null;
      if (encrypted) {
        byte[] id = new byte[in.readUnsignedByte()];
        in.readFully(id);
        keyId = new String(id, StandardCharsets.US_ASCII);
      }
      int headerLength = raw.length - in.available();
      int len = in.readInt();
      if (len < 0 || len != in.available()) {
        return null;
      }
      byte[] body = new byte[len];
      in.readFully(body);
      if (encrypted) {
        byte[] header = Arrays.copyOf(raw, headerLength);
        body = codec.open(keyId, aad(redisKey, header), body);
        if (body == null) {
          return null;
        }
      }
      return new Envelope(
          schema, (flags & NULL_MARKER) != 0, computedAt, computeMillis, freshUntil, tags, body);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static byte[] aad(String redisKey, byte[] header) {
    byte[] k = redisKey.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[k.length + 1 + header.length];
    System.arraycopy(k, 0, out, 0, k.length);
    out[k.length] = 0; // separator: no (key, header) pair can be re-split into another
    System.arraycopy(header, 0, out, k.length + 1, header.length);
    return out;
  }
}
