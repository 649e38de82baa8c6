import type { Socket } from 'node:net';
import { kAcceptQueuePlug } from './accept-queue-plug.js';
import type tls from 'node:tls';
import { resumeReading } from './backpressure.js';
import { closeConnection, maybeAllClosed } from './closing.js';
import { Connection, kConnection } from './connection.js';
import type { Carrier } from './connection.js';
import type { DrainerCore } from './core.js';
import { drainOne } from './drain-control.js';
import { lingerEnded } from './lingering-close.js';
import { connectionsListOf } from './message-in-progress.js';
import { ungateRequests } from './request-gate.js';
import { retireAtFor } from './retirement.js';
import { trackSocket, untrackSocket } from './socket-tracking.js';
import { handshakeDone } from './tls-handshakes.js';
import type { ConnectionProtocol } from './types.js';

/**
 * A connection's entry and exit: the server's 'connection' (or
 * 'secureConnection') listener registers every accepted socket, and the
 * socket's close takes it out again.
 */

/** The server's 'connection' / 'secureConnection' listener, made once per drainer. */
export function connectionListener(core: DrainerCore): (socket: Socket) => void {
  return (socket: Socket): void => {
    // A listener's own plug (accept-queue-plug.ts), accepted after all: not a client.
    if (core.disposed || (socket as Carrier)[kConnection] || (socket as { [kAcceptQueuePlug]?: boolean })[kAcceptQueuePlug]) return;
    if (core.isTls) handshakeDone(core, socket);
    const tlsSocket = socket as tls.TLSSocket;
    const protocol: ConnectionProtocol = core.isHttp2 && (!core.isTls || tlsSocket.alpnProtocol === 'h2') ? 'h2' : 'http/1.1';
    track(core, socket, protocol);
  };
}

/** `join` false: the caller completes the connection (a response in flight, a session) and then calls joinShutdown(). */
export function track(core: DrainerCore, socket: Socket, protocol: ConnectionProtocol, join = true): Connection {
  const now = Date.now();
  const registry = core.registry;
  const connection = new Connection(core.host, ++registry.seq, socket, protocol, now);
  if (core.connectionsList === undefined && protocol === 'http/1.1') core.connectionsList = connectionsListOf(core.server);
  (socket as Carrier)[kConnection] = connection;
  trackSocket(socket);
  registry.add(connection);
  if (core.settings.maxConnectionAgeMs > 0) connection.retireAt = retireAtFor(core, now);
  core.diagnostics.connectionOpened(connection);
  if (join) joinShutdown(core, connection, now);
  return connection;
}

/**
 * Accepted by the kernel (or handed over by the cluster primary, or a late
 * TLS handshake, or adopted: untracked.ts) once the shutdown began: it drains
 * with the rest, or on its own once the shutdown drain is over.
 */
export function joinShutdown(core: DrainerCore, connection: Connection, now: number): void {
  if (!core.listenerStopped) return;
  if (core.shutdownOperation?.add(connection, now) !== true) drainOne(core, connection, core.settings.timeoutMs, 'shutdown', false);
}

/** ConnectionOwner: the connection's socket emitted 'close'. */
export function socketClosed(core: DrainerCore, connection: Connection): void {
  if (connection.state === 'closed') {
    lingerEnded(core, connection);
    return;
  }
  closeConnection(core, connection, Date.now());
  if (core.listenerClosed) maybeAllClosed(core);
}

/** dispose(): forget every connection, leaving its socket as it was; held requests go to the application. */
export function releaseAll(core: DrainerCore): void {
  const now = Date.now();
  for (const connection of core.registry.connections.values()) {
    untrackSocket(connection.socket);
    const held = connection.held;
    connection.held = undefined;
    // Requests dropped behind the held ones cannot be answered in order: the last held response closes the connection.
    const dropped = connection.protocol === 'http/1.1' ? ungateRequests(connection.socket) : 0;
    if (dropped > 0 && held && held.length > 0) held[held.length - 1]!.res.shouldKeepAlive = false;
    if (held) for (const request of held) core.originalEmit.call(core.server, request.event, request.req, request.res);
    // Left as Node would have it: reading, unless Node's own output backpressure wants it paused.
    if (connection.protocol === 'http/1.1') resumeReading(connection.socket);
    connection.task?.settle(now);
  }
  core.registry.connections.clear();
}
