package dev.spillway.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A refusal of the public HTTP API: the status, the one sentence the client reads in {@code
 * {"status": …, "error": …}}, and any extra headers ({@code Allow}, {@code Retry-After}, {@code
 * WWW-Authenticate}). Thrown by the request parsing and the routes, answered by {@link ApiHandler}
 * through {@link ApiAnswers#error}; it carries no stack trace, since none ever reaches a client.
 */
final class ApiError extends RuntimeException {
  final int status;
  final Map<String, String> headers = new LinkedHashMap<>();

  ApiError(int status, String message) {
    super(message, null, false, false);
    this.status = status;
  }

  ApiError header(String name, String value) {
    headers.put(name, value);
    return this;
  }
}
