import cluster from 'node:cluster';
import net from 'node:net';

type ListeningHandle = { listen?: (backlog: number) => number };

/**
 * Stops accepting without resetting what the kernel has already accepted.
 *
 * Closing a listening socket resets every connection still in its accept queue
 * (Linux `inet_csk_listen_stop()`): a proxy that opened one and wrote a request
 * on it gets a reset before Node ever saw the connection, and nginx answers 502
 * for a POST it cannot resend (issue 16: 25–30 connections queued at SIGTERM on
 * a loaded 2-core machine, `ss -ltn`). So the close waits two loop turns: the
 * next poll phase accepts what is queued (libuv's `uv__server_io` accepts until
 * EAGAIN) and those connections drain with the rest; the check phase after it
 * closes the listener. Meanwhile the backlog is cut to 0 (`listen(2)` again on a
 * listening socket only updates its backlog; libuv's `uv_listen()` allows it:
 * checked on Node 20.20, 22.23, 24.22 and 26.12), so at most one more connection
 * can be queued at the close; a client whose SYN is dropped meanwhile retries
 * it, finds the port closed, and a proxy sends that request elsewhere.
 * A cluster worker closes at once, as before: the primary owns the accept queue
 * (its round-robin handle's `listen` does nothing; lib/internal/cluster/child.js),
 * and until the worker's close reaches it, it would keep handing this worker new
 * connections that a drain with `idleGraceMs: 0` closes at once (a client's first
 * request crossing the FIN: test/production/cluster.test.ts on Node 26).
 * An HTTP/2 server (`acceptQueued` false) closes at once too: a session accepted
 * after the drain began gets its GOAWAY at once and, with no stream open, Node
 * reads nothing more, so its first streams are refused anyway; closing at once
 * refuses the connection instead, which clients retry as readily.
 *
 * `net.Server.prototype.close`, not `http.Server`'s: that one also closes idle
 * connections (Node ≥ 19), which would reset connections drainkit is closing
 * gracefully. `stopped`: the listener is closed; `closed`: the server too (every connection gone).
 */
export function stopListening(server: net.Server, acceptQueued = true): { stopped: Promise<void>; closed: Promise<void> } {
  if (!server.listening) return { stopped: Promise.resolve(), closed: Promise.resolve() };
  if (cluster.isWorker || !acceptQueued) {
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    return { stopped: Promise.resolve(), closed };
  }
  const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
  try {
    if (typeof handle?.listen === 'function') handle.listen(0);
  } catch {
    // Not a listening stream after all: close as before.
  }
  let closed!: Promise<void>;
  const stopped = new Promise<void>((resolveStopped) => {
    closed = new Promise<void>((resolve) => {
      setImmediate(() =>
        setImmediate(() => {
          if (server.listening) net.Server.prototype.close.call(server, () => resolve());
          // Closed meanwhile by someone else: its 'close' comes once no connection is left.
          else server.getConnections((error, count) => (!error && count > 0 ? server.once('close', () => resolve()) : resolve()));
          resolveStopped();
        }),
      );
    });
  });
  return { stopped, closed };
}
