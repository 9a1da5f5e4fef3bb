package dev.spillway.cache;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;

/**
 * Turns values into bytes for Redis and back. The default is JSON through Jackson ({@link
 * #json(Class)}), which handles records and beans.
 *
 * <p>Contract: {@link #read} of what {@link #write} produced gives an equal value. {@link #read}
 * may throw on bytes it cannot understand (a class changed without a schema-version bump); the
 * cache treats that as a miss and loads, so a reader never fails on an old entry.
 */
public interface ValueSerializer<V> {
  byte[] write(V value) throws IOException;

  V read(byte[] bytes) throws IOException;

  /** JSON through a Jackson mapper with every module on the class path registered. */
  static <V> ValueSerializer<V> json(Class<V> type) {
    ObjectMapper mapper = JsonMapper.builder().findAndAddModules().build();
    return json(mapper, type);
  }

  /** JSON through the given mapper (configured by the caller, shared safely across threads). */
  static <V> ValueSerializer<V> json(ObjectMapper mapper, Class<V> type) {
    var writer = mapper.writerFor(type);
    var reader = mapper.readerFor(type);
    return new ValueSerializer<>() {
      @Override
      public byte[] write(V value) throws IOException {
        return writer.writeValueAsBytes(value);
      }

      @Override
      public V read(byte[] bytes) throws IOException {
        return reader.readValue(bytes);
      }
    };
  }
}
