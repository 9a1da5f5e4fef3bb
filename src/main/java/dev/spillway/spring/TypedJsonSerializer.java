package dev.spillway.spring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spillway.cache.ValueSerializer;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.List;
import java.util.Set;
import org.springframework.cache.support.NullValue;

/**
 * Values of Spring caches, which are untyped ({@code Object}), as JSON that records the value's
 * class: {@code {"t":"com.example.Book","v":{...}}}. Reading is safe against whatever Redis holds:
 * the recorded class must be on an allow-list ({@code spillway.spring-cache.allowed-types}, plus
 * String, the boxed numbers, Boolean and BigDecimal/BigInteger) before it is even loaded, and the
 * payload is then bound to that one class by Jackson without default typing, so no class named in
 * the data is ever instantiated polymorphically. A class that is not allowed fails {@link #read}
 * (the cache treats that as a miss and loads) and {@link #write} (the value is served, not cached).
 */
final class TypedJsonSerializer implements ValueSerializer<Object> {
  private static final Set<Class<?>> ALWAYS =
      Set.of(
          String.class,
          Integer.class,
          Long.class,
          Short.class,
          Byte.class,
          Double.class,
          Float.class,
          Boolean.class,
          Character.class,
          BigDecimal.class,
          BigInteger.class);
  private static final String NULL = "null";

  private final ObjectMapper mapper = JsonMapper.builder().findAndAddModules().build();
  private final List<String> allowed;
  private final ClassLoader classLoader;

  TypedJsonSerializer(List<String> allowedTypes, ClassLoader classLoader) {
    this.allowed = List.copyOf(allowedTypes);
    this.classLoader = classLoader;
  }

  @Override
  public byte[] write(Object value) throws IOException {
    ObjectNode n = mapper.createObjectNode();
    if (value instanceof NullValue) {
      n.put("t", NULL);
    } else {
      String type = value.getClass().getName();
      if (!allowed(type)) {
        throw new IOException(notAllowed(type));
      }
      n.put("t", type);
      n.set("v", mapper.valueToTree(value));
    }
    return mapper.writeValueAsBytes(n);
  }

  @Override
  public Object read(byte[] bytes) throws IOException {
    JsonNode n = mapper.readTree(bytes);
    String type = n.path("t").asText("");
    if (type.equals(NULL)) {
      return NullValue.INSTANCE;
    }
    if (!allowed(type)) {
      throw new IOException(notAllowed(type));
    }
    Class<?> c;
    try {
      c = Class.forName(type, false, classLoader);
    } catch (ClassNotFoundException e) {
      throw new IOException("cached value of class " + type + " is not on the class path", e);
    }
    return mapper.treeToValue(n.path("v"), c);
  }

  /** Whether values of {@code type} (a binary class name) may be cached and read back. */
  boolean allowed(String type) {
    for (Class<?> c : ALWAYS) {
      if (c.getName().equals(type)) {
        return true;
      }
    }
    for (String a : allowed) {
      if (a.endsWith(".*") ? type.startsWith(a.substring(0, a.length() - 1)) : a.equals(type)) {
        return true;
      }
    }
    return false;
  }

  private static String notAllowed(String type) {
    return "values of class "
        + type
        + " are not in spillway.spring-cache.allowed-types; add the"
        + " class or its package (com.example.dto.*) there";
  }
}
