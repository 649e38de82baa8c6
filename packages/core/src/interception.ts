import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { connectionListener } from './connection-tracking.js';
import type { DrainerCore, EmitFn } from './core.js';
import { onRequest } from './http1-dispatch.js';
import { onStream, sessionListener, streamCloseListener } from './http2-streams.js';
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

  // Requests are intercepted at emit() so that every 'request' listener, added
  // before or after us (Express, Koa, Fastify, Nest), sees them only when
  // drainkit dispatches them.
  core.originalEmit = server.emit as EmitFn;
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
          return onUpgrade(core, a as IncomingMessage, b as Duplex, c);
      }
    }
    return Reflect.apply(originalEmit, this, arguments) as boolean;
  };
  server.emit = core.hookedEmit as net.Server['emit'];
}

/** Undo attach(), leaving the server as it was (unless someone replaced its emit after us). */
export function detach(core: DrainerCore): void {
  const server = core.server;
  server.removeListener(core.isTls ? 'secureConnection' : 'connection', core.onConnection);
  server.removeListener('session', core.onSession);
  if (server.emit === core.hookedEmit) server.emit = core.originalEmit as net.Server['emit'];
}
