import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { connectionListener } from './connection-tracking.js';
import type { DrainerCore, EmitFn } from './core.js';
import { onRequest } from './http1-dispatch.js';
import { onStream, sessionListener, streamCloseListener } from './http2-streams.js';
import { rawTlsConnectionListener } from './tls-handshakes.js';
import { onUpgrade } from './upgrade-dispatch.js';

/**
 * How a drainer hooks into its server: a prepended 'connection' (or
 * 'secureConnection') listener registers each socket, a 'session' listener
 * each HTTP/2 session, and the server's own `emit` is replaced so that
 * 'request', 'checkContinue', 'checkExpectation', 'stream' and 'upgrade'
 * reach the application's listeners only through drainkit's dispatch.
 */
export function attach(core: DrainerCore): void {
  const server = core.server;
  core.onConnection = connectionListener(core);
  core.onSession = sessionListener();
  core.onStreamClose = streamCloseListener(core);
  // Prepended, so the connection is known before Node's own listener creates
  // an HTTP/2 session or a parser for it.
  server.prependListener(core.isTls ? 'secureConnection' : 'connection', core.onConnection);
  server.on('session', core.onSession);
  // TLS: the raw socket is counted from accept, before its handshake (one that never sends a ClientHello too).
  core.onRawTlsConnection = rawTlsConnectionListener(core);
  if (core.isTls) server.prependListener('connection', core.onRawTlsConnection);

  // Requests are intercepted at emit() so that every 'request' listener, added
  // before or after us (Express, Koa, Fastify, Nest), sees them only when
  // drainkit dispatches them.
  core.originalEmit = server.emit as EmitFn;
  core.directListeners = emitsPlainly(server);
  const originalEmit = core.originalEmit;
  core.hookedEmit = function (this: unknown, event: string | symbol, a?: unknown, b?: unknown, c?: unknown, d?: unknown) {
    if (!core.disposed) {
      // Named parameters, not `arguments`, on these paths: no arguments object per request.
      switch (event) {
        case 'request':
        case 'checkContinue':
        case 'checkExpectation':
          return onRequest(core, event, a as IncomingMessage, b as ServerResponse);
        case 'stream':
          return onStream(core, a as ServerHttp2Stream, b, c, d);
        case 'upgrade':
        case 'connect':
          // A CONNECT tunnel is an upgraded connection too: HTTP no longer runs on it.
          return onUpgrade(core, a as IncomingMessage, b as Duplex, c, event);
      }
    }
    return Reflect.apply(originalEmit, this, arguments) as boolean;
  };
  server.emit = core.hookedEmit as net.Server['emit'];
}

/** EventEmitter's `kCapture` symbol (lib/events.js; an own symbol of EventEmitter.prototype on Node 20 to 26). */
const kCapture = Object.getOwnPropertySymbols(EventEmitter.prototype).find((s) => s.description === 'kCapture');

/**
 * True when calling a 'request' event's one listener directly does what the
 * server's emit() would: emit is EventEmitter's own (nobody wrapped it before
 * us), the server does not capture promise rejections (`captureRejections`,
 * where emit watches the listener's returned promise) and has no domain.
 * EventEmitter.emit (lib/events.js, Node 20 to 26) otherwise calls a single
 * function listener with the emitter as `this` and the event's arguments.
 */
function emitsPlainly(server: net.Server): boolean {
  const s = server as net.Server & { domain?: unknown; _events?: unknown } & Record<symbol, unknown>;
  return (
    s.emit === EventEmitter.prototype.emit &&
    kCapture !== undefined &&
    s[kCapture] === false &&
    (s.domain === undefined || s.domain === null) &&
    typeof s._events === 'object' &&
    s._events !== null
  );
}

/** Undo attach(), leaving the server as it was (unless someone replaced its emit after us). */
export function detach(core: DrainerCore): void {
  const server = core.server;
  server.removeListener(core.isTls ? 'secureConnection' : 'connection', core.onConnection);
  server.removeListener('session', core.onSession);
  if (core.isTls) server.removeListener('connection', core.onRawTlsConnection);
  if (server.emit === core.hookedEmit) server.emit = core.originalEmit as net.Server['emit'];
}
