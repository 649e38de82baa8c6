import { once } from 'node:events';
import http from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { DrainError, DrainErrorCodes, createDrainer } from '@drainkit/core';
import { createRequestDrain, resolveListenOptions } from '@drainkit/core/adapter';
import { defineLazyDrain } from './lazy-drain.js';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import type { ListenOptions, RequestDrain } from '@drainkit/core/adapter';

/** The drainer's options, and where to listen: port (default 0, read the bound one from `listening`), host, https. */
export interface AttachOptions extends DrainerOptions, ListenOptions {}

export interface Attached {
  server: http.Server;
  drainer: Drainer;
  /** Resolves with the bound address; rejects if listening fails (EADDRINUSE...). */
  listening: Promise<AddressInfo>;
}

/**
 * `app.listen()` with a drainer: creates the server, attaches the drainer to it
 * before the first connection, gives every request `req.drain` (before any of
 * the app's middleware, wherever attach() is called), and listens.
 *
 *     const { server, drainer } = attach(app, { port: 3000, timeoutMs: 10_000 });
 */
export function attach(app: (req: IncomingMessage, res: ServerResponse) => unknown, options: AttachOptions = {}): Attached {
  if (typeof app !== 'function') {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, 'attach(app, options): app must be an Express application (a function)');
  }
  const { port, host, tlsOptions, rest: drainerOptions } = resolveListenOptions(options);
  let drainer: Drainer | undefined;
  const requestProto = (app as { request?: unknown }).request;
  // An Express app gives every request its `app.request` as prototype before any
  // middleware runs: `req.drain` is an accessor there, made on first read, so a
  // request that never reads it costs nothing (bench/README.md, instructions per request).
  const lazy = requestProto !== null && typeof requestProto === 'object' && !Object.hasOwn(requestProto, 'drain');
  const handler: RequestListener = lazy
    ? app
    : (req, res) => {
        // Not an Express app, or one attach()ed already (to another server): set it on every request.
        (req as IncomingMessage & { drain?: RequestDrain }).drain = createRequestDrain(drainer!, req);
        app(req, res);
      };
  const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  // Validates the drainer options; nothing listens yet if they are wrong.
  drainer = createDrainer(server, drainerOptions);
  if (lazy) defineLazyDrain(requestProto, drainer);
  const listening = once(server, 'listening').then(() => server.address() as AddressInfo);
  if (host === undefined) server.listen(port);
  else server.listen(port, host);
  return { server, drainer, listening };
}
