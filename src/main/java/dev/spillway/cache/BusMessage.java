package dev.spillway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One message on the invalidation bus: many invalidations batched, and who sent them.
 *
 * <pre>{"o":"origin","k":[["user","42"],...],"t":[["user","team:7"]],"c":["user"],"p":"nonce"}
 * </pre>
 *
 * {@code k} evicts keys, {@code t} tags, {@code c} a whole cache ({@code "*"}: every cache), and
 * {@code p} is the sender's heartbeat, which only the sender acts on.
 */
record BusMessage(String origin, List<Item> items, String ping) {

  private static final ObjectMapper JSON = new ObjectMapper();

  enum Kind {
    KEY,
    TAG,
    CLEAR
  }

  record Item(Kind kind, String cache, String value) {}

  byte[] encode() {
    ObjectNode root = JSON.createObjectNode();
    root.put("o", origin);
    ArrayNode k = null;
    ArrayNode t = null;
    ArrayNode c = null;
    for (Item i : items) {
      switch (i.kind()) {
        case KEY -> {
          k = k == null ? root.putArray("k") : k;
          k.addArray().add(i.cache()).add(i.value());
        }
        case TAG -> {
          t = t == null ? root.putArray("t") : t;
          t.addArray().add(i.cache()).add(i.value());
        }
        case CLEAR -> {
          c = c == null ? root.putArray("c") : c;
          c.add(i.cache());
        }
      }
    }
    if (ping != null) {
      root.put("p", ping);
    }
    try {
      return JSON.writeValueAsBytes(root);
    } catch (IOException e) {
      throw new IllegalStateException("a JSON tree always serializes", e);
    }
  }

  /** The message, or null when {@code raw} is not one (another program on the channel). */
  static BusMessage decode(String raw) {
    try {
      JsonNode root = JSON.readTree(raw);
      if (root == null || !root.isObject() || !root.path("o").isTextual()) {
        return null;
      }
      List<Item> items = new ArrayList<>();
      for (JsonNode pair : root.path("k")) {
        items.add(new Item(Kind.KEY, pair.path(0).asText(), pair.path(1).asText()));
      }
      for (JsonNode pair : root.path("t")) {
        items.add(new Item(Kind.TAG, pair.path(0).asText(), pair.path(1).asText()));
      }
      for (JsonNode name : root.path("c")) {
        items.add(new Item(Kind.CLEAR, name.asText(), null));
      }
      String ping = root.path("p").isTextual() ? root.path("p").asText() : null;
      return new BusMessage(root.path("o").asText(), items, ping);
    } catch (IOException e) {
      return null;
    }
  }
}
