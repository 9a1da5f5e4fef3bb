package dev.spillway.worker;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns SIGTERM and SIGINT into a call, instead of the JVM's default (run shutdown hooks, exit
 * 143), so that the worker can finish its running jobs and exit 0. Uses {@code sun.misc.Signal}
 * (module {@code jdk.unsupported}, present in every JDK) reflectively, so the build carries no
 * internal-API warning; where it is missing, a shutdown hook does the same work but the exit code
 * is the JVM's.
 */
final class Signals {
  private static final Logger log = LoggerFactory.getLogger(Signals.class);

  private Signals() {}

  /** Calls {@code onSignal} with the signal name ({@code TERM}, {@code INT}) on each signal. */
  static boolean handleTermination(Consumer<String> onSignal) {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Constructor<?> create = signal.getConstructor(String.class);
      Method handle = signal.getMethod("handle", signal, handler);
      Method name = signal.getMethod("getName");
      Object proxy =
          Proxy.newProxyInstance(
              handler.getClassLoader(),
              new Class<?>[] {handler},
              (self, method, args) ->
                  switch (method.getName()) {
                    case "handle" -> {
                      onSignal.accept((String) name.invoke(args[0]));
                      yield null;
                    }
                    case "hashCode" -> System.identityHashCode(self);
                    case "equals" -> self == args[0];
                    case "toString" -> "spillway-worker-signal-handler";
                    default -> null;
                  });
      for (String s : new String[] {"TERM", "INT"}) {
        handle.invoke(null, create.newInstance(s), proxy);
      }
      return true;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.warn(
          "event=signal_handler_unavailable error=\"{}\" action=\"shutdown hook instead; exit code"
              + " on SIGTERM will be 143\"",
          e.toString());
      return false;
    }
  }
}
