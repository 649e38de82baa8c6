import type { ServerResponse } from 'node:http';
import type { Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { kConnection } from './connection.js';
import type { Carrier } from './connection.js';
import { joinShutdown, track } from './connection-tracking.js';
import type { DrainerCore } from './core.js';
import { adoptInFlight, markIdle } from './http1-dispatch.js';
import { adoptSession } from './http2-streams.js';
import { withTimeout } from './timeout.js';
import type { DrainReport } from './types.js';

/**
 * Connections drainkit never saw open (issue 12, item 10): opened before
 * createDrainer, or TLS sockets still in their handshake (the server's
 * 'secureConnection', where a connection is tracked, has not come yet).
 * Shutdown adopts what it can find through the server's internals, and closes
 * and reports the rest at its deadline: never a "total: 0, clean" report over
 * connections a forced close cut, and `socketsClosed()` always resolves.
 *
 * Node internals read here, feature-detected (checked on Node 20.20 and 24.x):
 * `Symbol(http.server.connections)` on an http(s) server once listening (its
 * `all()` lists the parser, with its `socket`, of every HTTP/1.1 connection; `closeIdleConnections()` uses it),
 * `socket._httpMessage` (the response holding the socket), `tlsSocket._parent`
 * (the raw socket a TLSSocket wraps), `Symbol(sessions)` on an HTTP/2 server
 * (Node 24 only; on Node 20 an old session is adopted on its next stream).
 */

function internal(target: object, description: string): unknown {
  const symbol = Object.getOwnPropertySymbols(target).find((s) => s.description === description);
  return symbol === undefined ? undefined : (target as Record<symbol, unknown>)[symbol];
}

/** Before the shutdown drain starts: track the HTTP/1.1 connections and HTTP/2 sessions Node lists and drainkit does not. */
export function adoptUntracked(core: DrainerCore): void {
  // Attached before the server listened or held a connection: every one is tracked.
  if (!core.maybeUntracked) return;
  // Its entries are the connections' HTTP parsers, each with its `socket` (as closeIdleConnections() reads them).
  const connections = internal(core.server, 'http.server.connections') as { all?: () => Array<{ socket?: Socket | null }> } | undefined;
  if (typeof connections?.all === 'function') {
    for (const parser of connections.all()) {
      const socket = parser?.socket;
      if (!socket || (socket as Carrier)[kConnection] !== undefined || socket.destroyed) continue;
      const connection = track(core, socket, 'http/1.1', false);
      const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (res && !res.writableFinished) adoptInFlight(connection, res);
      // Idle, but it has read requests before: not "a head arriving" because its bytesRead > 0 (a fresh connection's test).
      else markIdle(core, connection);
      joinShutdown(core, connection, Date.now());
    }
  }
  const sessions = internal(core.server, 'sessions') as Iterable<Http2Session & Carrier> | undefined;
  if (sessions !== undefined && typeof sessions[Symbol.iterator] === 'function') {
    for (const session of sessions) if (session[kConnection] === undefined) adoptSession(core, session);
  }
}

/**
 * After the shutdown drain: sockets Node still counts beyond the tracked and
 * lingering ones get the rest of the grace period; at the deadline they are
 * closed (TLS handshakes destroyed, `closeAllConnections()`), and counted in
 * the report as forced. Sockets no API can reach are reported too, and
 * `socketsClosed()` stops waiting for them.
 */
export async function closeUntracked(core: DrainerCore, listenerClosed: Promise<void>, report: DrainReport): Promise<void> {
  // Lingering sockets close by themselves within lingerMs; anything else (never
  // tracked, still in a TLS handshake, or a late connection still draining) holds the listener open.
  if (core.listenerClosed || (await openSocketCount(core)) <= core.lingering.size) return;
  // Polled, so that a later shutdown() call with a shorter deadline takes effect here too.
  // Ref'd, as the shutdown drain's timer is (drain.ts): a socket waited for here may hold no ref'd handle.
  while (Date.now() < core.shutdownDeadlineAt) {
    if (await withTimeout(listenerClosed, Math.min(100, core.shutdownDeadlineAt - Date.now()), true)) return;
  }
  const left = Math.max(0, (await openSocketCount(core)) - core.registry.size - core.lingering.size);
  for (const socket of core.handshaking) socket.destroy();
  core.handshaking.clear();
  (core.server as { closeAllConnections?: () => void }).closeAllConnections?.();
  const sessions = internal(core.server, 'sessions') as Iterable<Http2Session> | undefined;
  if (sessions !== undefined && typeof sessions[Symbol.iterator] === 'function') {
    for (const session of sessions) if ((session as Carrier)[kConnection] === undefined) session.destroy();
  }
  if (left === 0) return;
  for (let i = 0; i < left; i++) {
    report.results.push({
      id: `${core.host.drainerId}-untracked-${i + 1}`,
      forced: true,
      durationMs: report.durationMs,
      completedRequests: 0,
      droppedRequests: 0,
      abortedRequests: 0,
      reason: 'untracked',
      protocol: 'http/1.1',
    });
  }
  report.total += left;
  report.forced += left;
  core.diagnostics.log(
    'warn',
    { untracked: left },
    'drainkit: connections opened before the drainer (or still in a TLS handshake) were closed at the shutdown deadline',
  );
  if (!(await withTimeout(listenerClosed, 250, true))) {
    // What is left no API can close (an HTTP/2 session from before the drainer, on Node < 24): stop waiting for it.
    core.diagnostics.log('warn', {}, 'drainkit: sockets the drainer cannot reach are still open; socketsClosed() no longer waits for them');
    core.listenerClosed = true;
  }
}

/** Sockets Node counts for the server: tracked, lingering, never tracked, in a TLS handshake. */
function openSocketCount(core: DrainerCore): Promise<number> {
  return new Promise((resolve) => core.server.getConnections((error, n) => resolve(error ? 0 : n)));
}
