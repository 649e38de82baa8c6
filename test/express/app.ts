import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { adminRouter, attach, drainMiddleware, liveness, readiness } from '@drainkit/express';
import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { basicAuthorize, slowRoute, testApp } from '../adapters/test-app.js';
import type { TestApp, TestAppOptions } from '../adapters/test-app.js';
import { listen } from '../helpers/net.js';

/** An Express app with every adapter feature on the routes of TestApp, on 127.0.0.1. */
export async function startExpressApp(expressFactory: typeof express, options: TestAppOptions = {}): Promise<TestApp> {
  const app = expressFactory();
  const seen: string[] = [];
  const slow = slowRoute();
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
    void slow.enter().then(() => res.send('slow done'));
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
  app.get('/live', liveness());
  if (options.json) app.use('/admin', expressFactory.json());
  const { authorize = basicAuthorize, ...admin } = options.admin ?? {};
  app.use('/admin', adminRouter({ ...admin, authorize: (req: Request) => authorize((name) => req.get(name)) }));
  app.use((error: { status?: number; code?: string; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error.status ?? 500).json({ code: error.code ?? null, message: error.message });
  });

  return testApp({ server, drainer, port: await listening, seen, slow });
}
