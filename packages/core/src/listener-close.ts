import cluster from 'node:cluster';
import net from 'node:net';
import { AcceptQueuePlug, kAcceptQueuePlug, plugTarget, syncookieCounter } from './accept-queue-plug.js';
import { acceptQueueReader } from './accept-queue.js';

type ListeningHandle = { listen?: (backlog: number) => number };
type Marked = net.Socket & { [kAcceptQueuePlug]?: boolean };

/** At most this long accepting the kernel's queue before the listener closes anyway (a client that keeps connecting). */
const ACCEPT_QUEUE_MAX_MS = 1_000;
/** How often a listener waiting only for handshakes under way looks again. */
const HANDSHAKE_POLL_MS = 1;
/** Plugs tried before the listener closes after a plain read (each failed one let someone else's connection in first). */
const MAX_PLUGS = 8;

/**
 * Stops accepting without resetting what the kernel has already accepted.
 *
 * Closing a listening socket resets every connection still in its accept queue
 * (Linux `inet_csk_listen_stop()`): a proxy that opened one and wrote a request
 * on it gets a reset before Node ever saw the connection, and nginx answers 502
 * for a POST it cannot resend (issue 16: 25–30 connections queued at SIGTERM on
 * a loaded 2-core machine, `ss -ltn`). So the queue is accepted first, and that
 * takes one loop turn per connection: libuv accepts one connection per poll
 * phase since 1.45 (libuv/libuv#3696, "don't accept() connections in a loop";
 * 20 queued connections took 20 turns on Node 20.20/libuv 1.46, 22.23/1.51,
 * 24.22/1.52 and 26.12/1.52). The listener closes in the check phase after a
 * poll phase that accepted nothing (the listener is level-triggered, so a
 * non-empty queue would have been accepted from) and, on Linux, only if the
 * kernel's queue still reads empty in that check phase (accept-queue.ts): the
 * I/O callbacks of that poll phase can take milliseconds under load, and a
 * connection queued meanwhile would be reset; the close follows the read by
 * microseconds. Nor while a handshake is under way on it (same read): the
 * close would drop it and reset the client's request behind its final ACK,
 * which takes a round trip to a proxy on another host, or a retransmission
 * (~200 ms) when the kernel dropped that ACK; so it looks again every
 * HANDSHAKE_POLL_MS (issue 16; figures in docs/proxies.md). At the latest
 * ACCEPT_QUEUE_MAX_MS after the start or at
 * `deadlineAt` (the shutdown's timeout); what was accepted drains with the rest.
 * Meanwhile the backlog is cut to 0 (`listen(2)` again on a listening socket
 * only updates its backlog; libuv's `uv_listen()` allows it: checked on the same
 * versions), so the queue holds at most one connection and a SYN that finds it
 * full is dropped (`TcpExtListenOverflows`); the client resends it a second
 * later, finds the port closed (or the restarted server), and a proxy sends that
 * request elsewhere. Packet captures behind nginx and HAProxy showed no final
 * ACK dropped (no SYN-ACK resent, no late reset); leaving the backlog as it was
 * lost far more (the proxy's new connections queued behind the drain). And
 * right before the close, once the queue reads empty with no handshake under
 * way, the listener fills its one-place queue with a connection of its own
 * (accept-queue-plug.ts), so that a SYN arriving in the microseconds between the
 * last read and the close is dropped (and resent to a closed port) rather than
 * accepted by the kernel and reset with its request; the close resets only the
 * plug. If someone else's connection or handshake got in first, the turns go on
 * (the plug, if it was accepted too, is destroyed and never tracked); after
 * MAX_PLUGS such tries, where no plug can connect, or where the plug went to
 * another listener on the port (SO_REUSEPORT), the listener closes right after
 * a read as before. What can still be lost is a handshake answered with a
 * SYN cookie before the last read (invisible to it) and anything still under
 * way at the 1 s cap (docs/proxies.md; soak/proxy/restart-ab.mjs measures it).
 * A cluster worker closes at once, as before: the primary owns the accept queue
 * (its round-robin handle's `listen` does nothing; lib/internal/cluster/child.js),
 * and until the worker's close reaches it, it would keep handing this worker new
 * connections that a drain with `idleGraceMs: 0` closes at once (a client's first
 * request crossing the FIN: test/production/cluster.test.ts on Node 26).
 * HTTP/2 servers too: an h2 session accepted from the queue waits for its first
 * stream before its GOAWAY (http2-drain.ts) and serves it. Until 2026-12-03 they
 * closed at once, which reset every queued session with the request its client
 * had written on it (test/core/accept-queue.test.ts: 4 of 4 POSTs, ECONNRESET).
 *
 * `net.Server.prototype.close`, not `http.Server`'s: that one also closes idle
 * connections (Node ≥ 19), which would reset connections drainkit is closing
 * gracefully. `stopped`: the listener is closed, with true when a poll phase
 * ran since the call (everything then in the receive buffers has been read:
 * the drain need not wait another turn for it; Http1Strategy.deferAll);
 * `closed`: the server too (every connection gone).
 */
function disposePlugs(plugs: AcceptQueuePlug[], spare: AcceptQueuePlug | undefined): void {
  for (const plug of plugs) plug.dispose();
  spare?.dispose();
}

export function stopListening(server: net.Server, deadlineAt = Infinity): { stopped: Promise<boolean>; closed: Promise<void> } {
  if (!server.listening) return { stopped: Promise.resolve(false), closed: Promise.resolve() };
  if (cluster.isWorker) {
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    return { stopped: Promise.resolve(false), closed };
  }
  const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
  try {
    if (typeof handle?.listen === 'function') handle.listen(0);
  } catch {
    // Not a listening stream after all: close as before.
  }
  // One accept per loop turn: count them, and close after a turn that accepted none.
  let accepted = 0;
  const count = (socket: net.Socket): void => {
    accepted++;
    if ((socket as Marked)[kAcceptQueuePlug] === true) socket.destroy();
  };
  const countDrop = (): void => void accepted++; // over maxConnections: accepted and closed by Node
  server.on('connection', count);
  server.on('drop', countDrop);
  const giveUpAt = Math.min(Date.now() + ACCEPT_QUEUE_MAX_MS, deadlineAt);
  let closed!: Promise<void>;
  const stopped = new Promise<boolean>((resolveStopped) => {
    closed = new Promise<void>((resolve) => {
      let seen = -1;
      // Check phases seen: from the second on, a poll phase has run since the call.
      let turns = 0;
      const queue = acceptQueueReader(server);
      const target = queue === undefined ? undefined : plugTarget(server.address());
      const plugs: AcceptQueuePlug[] = [];
      const cookies = target === undefined ? undefined : syncookieCounter();
      let cookiesBefore = -1;
      // The first plug is made now, so that its connect follows the last read closely.
      let spare = target === undefined ? undefined : new AcceptQueuePlug(target);
      // A plug shut out of the queue may still be accepted a turn later: not a client, so not tracked.
      const markPlug = (socket: net.Socket): void => {
        for (const plug of plugs) if (plug.isPeerOf(socket)) (socket as Marked)[kAcceptQueuePlug] = true;
      };
      if (target !== undefined) server.prependListener('connection', markPlug);
      const turn = (): void => {
        // The first check phase only starts the count; a later one closes once the
        // poll phase before it accepted nothing (the listener is level-triggered,
        // so a non-empty queue would have been accepted from) and, on Linux, the
        // kernel's queue still reads empty: a connection queued since that poll
        // phase looked would be reset.
        turns++;
        if (server.listening && Date.now() < giveUpAt) {
          if (accepted === seen && spare !== undefined) cookiesBefore = cookies!.read(); // before the read: outside the gap
          const kernel = accepted === seen ? queue?.read() : undefined;
          if (accepted !== seen || (kernel?.queued ?? 0) > 0) {
            seen = accepted;
            setImmediate(turn);
            return;
          }
          if ((kernel?.handshakes ?? 0) > 0) {
            // A handshake takes a round trip (one whose final ACK was dropped, a
            // retransmission: ~200 ms): look again soon, after a poll phase.
            setTimeout(() => setImmediate(turn), HANDSHAKE_POLL_MS);
            return;
          }
          if (spare !== undefined && kernel !== undefined) {
            // Fill the (one-place) queue with our own connection, so that nothing
            // else gets in between the last look and the close (accept-queue-plug.ts).
            const plug = spare;
            plug.connect();
            plugs.push(plug);
            spare = undefined;
            process.nextTick(plugged, plug); // after connect()'s own tick, which calls connect(2)
            return;
          }
        }
        finish();
      };
      const plugged = (plug: AcceptQueuePlug): void => {
        if (server.listening && Date.now() < giveUpAt) {
          const ours = plug.established();
          const kernel = queue!.read();
          // Sealed by the plug: it is the one queued connection, no handshake is
          // under way, and it was not answered with a SYN cookie (which would hide
          // a handshake from the read: accept-queue-plug.ts syncookieCounter()). Or the
          // plug could not connect at all and the queue reads empty: the close follows
          // that read at once, as without a plug.
          // Or the plug connected but is not here at all: the kernel gave it to another
          // listener on the port (SO_REUSEPORT, Node's `reusePort`) or something
          // intercepted it; plugs cannot work here, and the empty read stands.
          const sealed =
            kernel !== undefined &&
            kernel.handshakes === 0 &&
            (ours ? kernel.queued === 0 || (kernel.queued === 1 && cookiesBefore >= 0 && cookies!.read() === cookiesBefore) : kernel.queued === 0);
          if (kernel !== undefined && !sealed) {
            // Someone else's connection or handshake came first: let it in, with the
            // plug if it got in too, and try again.
            plug.remember();
            if (ours) plug.dispose(); // its FIN completes its handshake if its final ACK met a full queue
            if (plugs.length < MAX_PLUGS) spare = new AcceptQueuePlug(target!);
            setImmediate(turn);
            return;
          }
        }
        finish();
      };
      const finish = (): void => {
        if (server.listening) {
          // Without a plug in the queue: nothing that allocates between the read and
          // the close (a scavenge there held a close back by a millisecond while a
          // SYN arrived, in a traced build:
          // bench/results/proxy-restart-ab-nginx-forensics-2026-12-02.txt); the
          // 'close' it leads to is emitted on a later tick at the earliest.
          net.Server.prototype.close.call(server);
          server.once('close', () => resolve());
        }
        // Closed meanwhile by someone else: its 'close' comes once no connection is left.
        else server.getConnections((error, n) => (!error && n > 0 ? server.once('close', () => resolve()) : resolve()));
        // The listener's close reset the plug's server side (it is never accepted).
        // A turn later: the drain starts first (the plug's side sees the reset meanwhile, ignored).
        if (plugs.length > 0 || spare !== undefined) setImmediate(disposePlugs, plugs, spare);
        cookies?.dispose();
        queue?.dispose();
        server.off('connection', count);
        server.off('connection', markPlug);
        server.off('drop', countDrop);
        resolveStopped(turns > 1);
      };
      setImmediate(turn);
    });
  });
  return { stopped, closed };
}
