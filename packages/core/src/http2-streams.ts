import { constants as h2constants } from 'node:http2';
import net from 'node:net';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import { kConnection } from './connection.js';
import type { Carrier, Connection } from './connection.js';
import type { DrainerCore } from './core.js';
import { advance } from './drain-control.js';
import { joinShutdown, track } from './connection-tracking.js';
import { releaseRequestSignal } from './request-signals.js';
import { retireIfDue } from './retirement.js';

/**
 * HTTP/2: a connection's session, and the streams on it counted in flight
 * from the server's 'stream' emit to the stream's 'close'. Streams above the
 * final GOAWAY's last stream id are refused (http2-drain.ts sends the GOAWAYs).
 */

/** The server's 'session' listener, made once per drainer. */
export function sessionListener(): (session: Http2Session) => void {
  return (session: Http2Session): void => {
    // session.socket is a proxy that forwards property reads to the socket.
    const connection = (session.socket as Carrier)[kConnection];
    if (!connection || connection.state === 'closed') return;
    connection.protocol = 'h2';
    connection.session = session;
    (session as Carrier)[kConnection] = connection;
  };
}

/**
 * Tracks a session drainkit never saw open (it predates createDrainer): its
 * socket, which `session.socket` only proxies, is Node's internal
 * `kSocket` property (looked up by its description; Node 20.20 and 24.x).
 * Undefined when that internal is missing: the session then stays untracked.
 */
export function adoptSession(core: DrainerCore, session: Http2Session & Carrier): Connection | undefined {
  if (core.disposed || session.destroyed || session.closed) return undefined;
  const symbol = Object.getOwnPropertySymbols(session).find((s) => s.description === 'socket');
  const socket = symbol === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[symbol];
  if (!(socket instanceof net.Socket) || socket.destroyed) return undefined;
  const existing = (socket as Carrier)[kConnection];
  const connection = existing ?? track(core, socket, 'h2', false);
  connection.protocol = 'h2';
  connection.session = session;
  session[kConnection] = connection;
  if (existing === undefined) joinShutdown(core, connection, Date.now());
  return connection;
}

/** The 'close' listener every dispatched stream gets, made once per drainer. */
export function streamCloseListener(core: DrainerCore): (this: ServerHttp2Stream) => void {
  return function (this: ServerHttp2Stream) {
    const connection = (this as Carrier)[kConnection];
    if (connection) streamClosed(core, connection, this);
  };
}

/** The 'stream' emit, routed here by interception.ts. Node emits it with (stream, headers, flags, rawHeaders). */
export function onStream(core: DrainerCore, stream: ServerHttp2Stream, headers: unknown, flags: unknown, rawHeaders: unknown): boolean {
  const session = stream.session as (Http2Session & Carrier) | undefined;
  let connection = session?.[kConnection];
  // A session opened before the drainer was attached: adopt it on its next stream.
  if (connection === undefined && session !== undefined) connection = adoptSession(core, session);
  if (!connection || connection.state === 'closed') return core.originalEmit.call(core.server, 'stream', stream, headers, flags, rawHeaders);
  const task = connection.task;
  const id = stream.id ?? 0;
  if (task && task.goawayPhase === 2 && id > connection.lastStreamId) {
    // Beyond the final GOAWAY's last stream id: refused, never dispatched (RFC 9113 §6.8).
    task.droppedRequests++;
    core.unanswered.count(1, 'refused-stream', connection.id);
    stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
    return true;
  }
  if (id > connection.lastStreamId) connection.lastStreamId = id;
  connection.inFlight++;
  connection.state = task ? 'draining' : 'active';
  (stream as Carrier)[kConnection] = connection;
  stream.on('close', core.onStreamClose);
  // A drain waiting for the session's first stream (http2-drain.ts begin): here it is, GOAWAY now.
  if (task && task.goawayPhase === 0) advance(core, task, Date.now());
  retireIfDue(core, connection);
  return core.originalEmit.call(core.server, 'stream', stream, headers, flags, rawHeaders);
}

function streamClosed(core: DrainerCore, connection: Connection, stream: ServerHttp2Stream): void {
  if (connection.state === 'closed') return;
  const now = Date.now();
  connection.inFlight--;
  releaseRequestSignal(stream, connection.requestSignals);
  connection.lastActiveAt = now;
  const task = connection.task;
  // Completed means the whole response went out; a stream closed by a reset
  // or by a forced session destroy (rstCode may still read NO_ERROR) did not.
  if (stream.writableFinished && (stream.rstCode === undefined || stream.rstCode === h2constants.NGHTTP2_NO_ERROR)) {
    connection.requestsServed++;
    if (task) task.completedRequests++;
  } else if (task) {
    task.abortedRequests++;
  }
  if (task) advance(core, task, now);
  else if (connection.inFlight === 0) connection.state = 'idle';
}
