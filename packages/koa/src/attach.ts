import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DrainError, DrainErrorCodes, createDrainer } from '@drainkit/core';
import { createRequestDrain, resolveListenOptions } from '@drainkit/core/adapter';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import type { ListenOptions } from '@drainkit/core/adapter';
import type Koa from 'koa';

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
 * before the first connection, gives every context `ctx.state.drain` as Koa
 * creates it (before any middleware, wherever attach() is called), and listens.
 *
 *     const { server, drainer } = attach(app, { port: 3000, timeoutMs: 10_000 });
 */
export function attach(app: Koa, options: AttachOptions = {}): Attached {
  if (app === null || typeof app !== 'object' || typeof app.callback !== 'function' || !Array.isArray(app.middleware)) {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, 'attach(app, options): app must be a Koa application');
  }
  const { port, host, tlsOptions, rest: drainerOptions } = resolveListenOptions(options);
  const server = tlsOptions ? https.createServer(tlsOptions) : http.createServer();
  // Validates the drainer options; nothing listens yet if they are wrong.
  const drainer = createDrainer(server, drainerOptions);
  // Set as Koa creates the context, so every middleware and route sees it, whatever was
  // registered before; not a middleware of its own, which costs a compose step per request.
  const createContext = app.createContext;
  app.createContext = function createDrainContext(this: Koa, req: IncomingMessage, res: ServerResponse) {
    const ctx = createContext.call(this, req, res);
    (ctx.state as { drain?: unknown }).drain = createRequestDrain(drainer, req);
    return ctx;
  } as Koa['createContext'];
  server.on('request', app.callback());
  const listening = once(server, 'listening').then(() => server.address() as AddressInfo);
  if (host === undefined) server.listen(port);
  else server.listen(port, host);
  return { server, drainer, listening };
}
