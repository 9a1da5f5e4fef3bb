package dev.spillway.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * A loopback TCP proxy for fault injection: clients connect to {@link #port()} and their bytes are
 * copied to and from the target unchanged, until the test cuts the line.
 *
 * <p>{@link #cut()} resets every live connection at once (both sides see a connection reset, as
 * when a dropped network is noticed) and closes new ones as soon as they are accepted, until {@link
 * #restore()}. When either side of a connection closes, the proxy closes the other: half-closed
 * connections are not modelled. Threads are virtual and die with their sockets.
 */
public final class TcpProxy implements AutoCloseable {

  private static final int CONNECT_TIMEOUT_MS = 5_000;

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final Set<Socket> live = ConcurrentHashMap.newKeySet();
  private volatile boolean cut;
  private volatile boolean closed;

  private TcpProxy(ServerSocket server, InetSocketAddress target) {
    this.server = server;
    this.target = target;
  }

  /** Listens on a free loopback port and forwards every connection to the target. */
  public static TcpProxy start(String targetHost, int targetPort) {
    try {
      var server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      var proxy = new TcpProxy(server, new InetSocketAddress(targetHost, targetPort));
      Thread.ofVirtual().name("tcp-proxy-accept-" + server.getLocalPort()).start(proxy::accept);
      return proxy;
    } catch (IOException e) {
      throw new UncheckedIOException("Could not open a proxy port on loopback", e);
    }
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Closes all live connections and every new one until {@link #restore()}. */
  public void cut() {
    cut = true;
    live.forEach(TcpProxy::abort);
  }

  /** Lets new connections through again; connections closed by {@link #cut()} stay closed. */
  public void restore() {
    cut = false;
  }

  /** Stops listening and closes every connection. */
  @Override
  public void close() {
    closed = true;
    closeQuietly(server);
    live.forEach(TcpProxy::closeQuietly);
  }

  private void accept() {
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue; // a failed accept affects one client only
      }
      if (cut) {
        closeQuietly(client);
      } else {
        Thread.ofVirtual().start(() -> bridge(client));
      }
    }
  }

  private void bridge(Socket client) {
    Socket upstream = new Socket();
    live.add(client);
    live.add(upstream);
    try {
      upstream.connect(target, CONNECT_TIMEOUT_MS);
      // Redis and PostgreSQL exchange small messages; Nagle's delay would distort timings.
      client.setTcpNoDelay(true);
      upstream.setTcpNoDelay(true);
    } catch (IOException e) {
      release(client, upstream);
      return;
    }
    if (cut || closed) { // cut() may have run between accept and registration
      release(client, upstream);
      return;
    }
    Thread.ofVirtual().start(() -> pump(upstream, client));
    pumpRewriting(client, upstream);
  }

  /**
   * Rewrites client-to-server bytes with {@code r} until it returns a different array once (so a
   * test can change one command in flight: e.g. the key of one read, to make its reply empty for
   * the wrong reason). Chunks are as the socket delivers them; keep patterns short.
   */
  public void rewriteOnce(UnaryOperator<byte[]> r) {
    rewrite = r;
  }

  private volatile UnaryOperator<byte[]> rewrite;

  private void pumpRewriting(Socket from, Socket to) {
    try {
      var in = from.getInputStream();
      var out = to.getOutputStream();
      byte[] buf = new byte[64 * 1024];
      for (int n; (n = in.read(buf)) >= 0; ) {
        byte[] chunk = Arrays.copyOf(buf, n);
        var r = rewrite;
        if (r != null) {
          byte[] changed = r.apply(chunk);
          if (!Arrays.equals(changed, chunk)) {
            rewrite = null;
            chunk = changed;
          }
        }
        out.write(chunk);
        out.flush();
      }
    } catch (IOException e) {
      // A closed or reset socket ends the copy; release() below closes the pair.
    } finally {
      release(from, to);
    }
  }

  private void pump(Socket from, Socket to) {
    try {
      from.getInputStream().transferTo(to.getOutputStream());
    } catch (IOException e) {
      // A closed or reset socket ends the copy; release() below closes the pair.
    } finally {
      release(from, to);
    }
  }

  private void release(Socket a, Socket b) {
    closeQuietly(a);
    closeQuietly(b);
    live.remove(a);
    live.remove(b);
  }

  /** Closes with a reset (linger 0) rather than a polite FIN, as a dropped network would look. */
  private static void abort(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (IOException e) {
      // Already closed or never connected: closing below is still right.
    }
    closeQuietly(socket);
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      // Closing is all we wanted; a second close or a reset changes nothing.
    }
  }
}
