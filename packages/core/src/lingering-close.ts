import type { Connection, DrainTask } from './connection.js';
import type { DrainerCore } from './core.js';
import { closeConnection, maybeAllClosed } from './closing.js';
import type { Duplex } from 'node:stream';
import { discardAfterFin } from './linger.js';

/**
 * A draining connection that has written its last response and sent its FIN
 * is done: it can never carry a request again. It leaves the registry now; its
 * socket lingers, reading and discarding, until the client's FIN or `lingerMs`
 * (RFC 9112 §9.6), so the close is not a reset. Waiting on the client for that
 * would make every drain (and shutdown) only as fast as the slowest client's FIN.
 * HTTP/1.1 and hook-less upgraded: once `end()` is called (the FIN queued).
 * HTTP/2: once the socket Node ended after `session.close()` has finished
 * (http2-drain.ts closeWhenDone), so no frame of the session is still unwritten.
 */
export function releaseIfDone(core: DrainerCore, task: DrainTask, now: number): boolean {
  const connection = task.connection;
  if (task.endedAt === 0 || connection.inFlight > 0 || task.result) return false;
  if (connection.protocol === 'h2' && !connection.socket.writableFinished) return false;
  const socket = lingeringSocket(connection);
  // Already closing: its close event settles it.
  if (socket.destroyed) return false;
  core.lingering.set(connection, now + core.settings.lingerMs);
  // On the client's FIN, Node's HTTP server calls socket.end() again; on a
  // socket whose FIN is already out that builds an ERR_STREAM_ALREADY_FINISHED
  // error, stack trace and all, only to drop it: ~4 µs per connection.
  if (socket.writableEnded) socket.end = endAfterFin as Duplex['end'];
  // Read and discard from now on, without parsing: whatever comes is counted, never held.
  if (connection.protocol === 'http/1.1') {
    const id = connection.id;
    discardAfterFin(socket, (requests, bytes) => core.unanswered.count(requests, 'after-fin', id, bytes));
  }
  closeConnection(core, connection, now);
  armLingerTimer(core);
  return true;
}

/** One timer for all lingering sockets of this drainer; they linger in release order, so the first is due first. */
function armLingerTimer(core: DrainerCore): void {
  if (core.lingerTimer !== undefined) return;
  const first = core.lingering.values().next();
  if (first.done) return;
  core.lingerTimer = setTimeout(core.onLingerTimer, Math.max(0, first.value - Date.now()));
  // The lingering sockets keep the process alive; the timer need not.
  core.lingerTimer.unref();
}

/** The listener for the linger timer, made once per drainer. */
export function lingerTimerListener(core: DrainerCore): () => void {
  return () => {
    core.lingerTimer = undefined;
    const now = Date.now();
    for (const [connection, until] of core.lingering) {
      if (until > now) break;
      core.lingering.delete(connection);
      // The client never sent its FIN; ours went out at least lingerMs ago.
      lingeringSocket(connection).destroy();
    }
    armLingerTimer(core);
    maybeAllClosed(core);
  };
}

/** A lingering socket closed (the client's FIN, or our destroy). */
export function lingerEnded(core: DrainerCore, connection: Connection): void {
  if (!core.lingering.delete(connection)) return;
  if (core.lingering.size === 0 && core.lingerTimer !== undefined) {
    clearTimeout(core.lingerTimer);
    core.lingerTimer = undefined;
  }
  maybeAllClosed(core);
}

/** `end()` on a socket that has already sent its FIN: nothing to do, unless a callback wants the outcome. */
function endAfterFin(this: Duplex, ...args: unknown[]): Duplex {
  if (typeof args[args.length - 1] === 'function') return Reflect.apply(Object.getPrototypeOf(this).end as Duplex['end'], this, args) as Duplex;
  return this;
}

/** The socket a released connection lingers on: the one its last bytes went out on. */
function lingeringSocket(connection: Connection): Duplex {
  return connection.upgradedSocket ?? connection.socket;
}
