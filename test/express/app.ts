import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import { adminRouter, attach, drainMiddleware, readiness } from '@drainkit/express';
import type { ExpressAdminOptions } from '@drainkit/express';
import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { closeServer, deferred, listen } from '../helpers/net.js';

export const ADMIN_AUTH = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;

/** The test's authorize: Basic admin:s3cret; false otherwise (401 without credentials, 403 with wrong ones). */
export const basicAuthorize = (req: Request): boolean => req.headers.authorization === ADMIN_AUTH;

export interface ExpressTestApp {
  app: express.Express;
  server: http.Server;
  drainer: Drainer;
  port: number;
  /** Every path that reached Express at all (the first middleware records it). */
  seen: string[];
  /** Resolves when the next /slow handler has started. */
  slowStarted(): Promise<void>;
  /** Lets every waiting /slow handler answer. */
  release(): void;
  close(): Promise<void>;
}

export interface ExpressTestOptions {
  shape?: 'attach' | 'middleware';
  drainerOptions?: DrainerOptions;
  /** Admin router options; `authorize` defaults to basicAuthorize. */
  admin?: Partial<ExpressAdminOptions>;
  /** Put express.json() in front of the admin router. */
  json?: boolean;
  /** Leave the drain middleware out (to test helpers that get { drainer } or nothing). */
  withoutDrainMiddleware?: boolean;
}

/** An Express app with every adapter feature on routes the tests call, on 127.0.0.1. */
export async function startExpressApp(expressFactory: typeof express, options: ExpressTestOptions = {}): Promise<ExpressTestApp> {
  const app = expressFactory();
  const seen: string[] = [];
  let gate = deferred();
  let startWaiters: Array<() => void> = [];
  const shape = options.withoutDrainMiddleware ? 'none' : (options.shape ?? 'attach');
  let server: http.Server;
  let drainer: Drainer;
  let listening: Promise<number>;
  if (shape === 'attach') {
    // Before any route on purpose: attach() gives every request req.drain wherever it is called.
    const attached = attach(app, { host: '127.0.0.1', ...options.drainerOptions });
    ({ server, drainer } = attached);
    listening = attached.listening.then((address) => address.port);
  } else {
    server = http.createServer(app);
    drainer = createDrainer(server, options.drainerOptions);
    if (shape === 'middleware') app.use(drainMiddleware(drainer));
    listening = listen(server);
  }
  app.use((req, _res, next) => {
    seen.push(req.path);
    next();
  });
  app.get('/fast', (_req, res) => {
    res.send('fast');
  });
  app.get('/slow', (_req, res) => {
    for (const wake of startWaiters.splice(0)) wake();
    void gate.promise.then(() => res.send('slow done'));
  });
  app.get('/info', (req, res) => {
    res.json({
      connection: req.drain.connection?.toJSON() ?? null,
      aborted: req.drain.signal.aborted,
      sameDrainer: req.drain.drainer === drainer,
    });
  });
  app.get('/logout', (req, res) => {
    void req.drain.drainAfterResponse();
    res.send('bye');
  });
  app.get('/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write('data: hello\n\n');
    req.drain.signal.addEventListener('abort', () => {
      res.end(`event: bye\ndata: ${(req.drain.signal.reason as { code?: string }).code}\n\n`);
    });
  });
  app.get('/ready', readiness());
  if (options.json) app.use('/admin', expressFactory.json());
  app.use('/admin', adminRouter({ authorize: basicAuthorize, ...options.admin }));
  app.use((error: { status?: number; code?: string; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error.status ?? 500).json({ code: error.code ?? null, message: error.message });
  });

  const port = await listening;
  return {
    app,
    server,
    drainer,
    port,
    seen,
    slowStarted: () => new Promise<void>((resolve) => startWaiters.push(resolve)),
    release() {
      gate.resolve();
      gate = deferred();
    },
    async close() {
      gate.resolve();
      startWaiters = [];
      drainer.dispose();
      await closeServer(server);
    },
  };
}
