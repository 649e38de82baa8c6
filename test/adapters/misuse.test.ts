import http from 'node:http';
import { createDrainer, isDrainError } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import * as expressAdapter from '@drainkit/express';
import * as koaAdapter from '@drainkit/koa';
import { collectDrainMetrics } from '@drainkit/prometheus';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import Koa from 'koa';
import { Registry } from 'prom-client';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../helpers/net.js';

// Issue 12, items 5, 11 and 12: misuse of the adapters must not crash the
// process, must not act on a request it cannot answer, and must say what to pass.

const servers: http.Server[] = [];
const drainers: Drainer[] = [];
afterEach(async () => {
  for (const drainer of drainers.splice(0)) drainer.dispose();
  await Promise.all(servers.splice(0).map((server) => closeServer(server)));
});

async function serve(handler: http.RequestListener, drainerOptions = {}): Promise<{ server: http.Server; drainer: Drainer; port: number }> {
  const server = http.createServer(handler);
  const drainer = createDrainer(server, drainerOptions);
  servers.push(server);
  drainers.push(drainer);
  return { server, drainer, port: await listen(server) };
}

/** Collects unhandled rejections for the duration of `run` (the crash of item 5 is one). */
async function noUnhandledRejection(run: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    await run();
    // A rejection is reported after the microtask queue drains.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  expect(seen).toEqual([]);
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('admin router: errors go to the framework, never an unhandled rejection (item 5)', () => {
  it('a challenge Node would refuse as a header value is refused when the router is created', () => {
    for (const challenge of ['Basic realm="dräinkit €"', 'Basic realm="x"\u0000', 'Basic\tok\u0007']) {
      const express5 = thrown(() => expressAdapter.adminRouter({ authorize: () => false, challenge }));
      const koa = thrown(() => koaAdapter.adminRouter({ authorize: () => false, challenge }));
      for (const error of [express5, koa]) {
        expect(isDrainError(error, 'ERR_DRAIN_INVALID_OPTION'), String(error)).toBe(true);
        expect((error as Error).message).toContain('challenge');
      }
    }
    // Latin-1 is what Node accepts: still fine.
    expect(() => expressAdapter.adminRouter({ authorize: () => false, challenge: 'Basic realm="drâinkit"' })).not.toThrow();
  });

  it('Express: headers sent by another middleware while authorize() ran: the action is not run, the error reaches next(err)', async () => {
    const errors: unknown[] = [];
    let drainer!: Drainer;
    await noUnhandledRejection(async () => {
      let listener: http.RequestListener | undefined;
      const started = await serve((req, res) => listener!(req, res));
      drainer = started.drainer;
      const app = express();
      app.use(expressAdapter.drainMiddleware(drainer));
      // A timeout middleware that answers before the slow authorize resolves.
      app.use((_req, res, next) => {
        setTimeout(() => res.status(503).end('timed out'), 20);
        next();
      });
      app.use('/admin', expressAdapter.adminRouter({ authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 120)) }));
      app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
        errors.push(error);
        next(error);
      });
      listener = app;
      const res = await fetch(`http://127.0.0.1:${started.port}/admin/shutdown`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('timed out');
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    // The client saw a 503: shutting down anyway would surprise it.
    expect(drainer.isReady()).toBe(true);
    expect(errors).toHaveLength(1);
    expect(isDrainError(errors[0], 'ERR_DRAIN_INVALID_ARGUMENT')).toBe(true);
  });

  it('Koa: the same race is reported through Koa\'s error path and the action is not run', async () => {
    const appErrors: unknown[] = [];
    await noUnhandledRejection(async () => {
      const app = new Koa();
      app.silent = true;
      app.on('error', (error: unknown) => appErrors.push(error));
      app.use(async (ctx, next) => {
        // Answered directly on the Node response, as a raw timeout handler would.
        setTimeout(() => ctx.res.writeHead(503).end('timed out'), 20);
        await next();
      });
      const admin = koaAdapter.adminRouter({
        prefix: '/admin',
        authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 120)),
      });
      app.use(admin.routes()).use(admin.allowedMethods());
      // attach() last: Koa composes its middleware when the server's handler is made.
      const attached = koaAdapter.attach(app, { host: '127.0.0.1' });
      servers.push(attached.server);
      drainers.push(attached.drainer);
      const { port } = await attached.listening;
      const res = await fetch(`http://127.0.0.1:${port}/admin/shutdown`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(503);
      await res.text();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(attached.drainer.isReady()).toBe(true);
    });
    expect(appErrors.some((error) => isDrainError(error, 'ERR_DRAIN_INVALID_ARGUMENT'))).toBe(true);
  });
});

describe('admin router: small ones (item 11)', () => {
  it('a JSON null body to POST /drain is a 400 and drains nothing (Express and Koa, with and without a body parser)', async () => {
    for (const [name, build] of [
      ['express', (drainer: Drainer) => {
        const app = express();
        app.use('/admin', expressAdapter.adminRouter({ authorize: () => true, drainer }));
        return app as http.RequestListener;
      }],
      ['express + express.json({ strict: false })', (drainer: Drainer) => {
        const app = express();
        app.use(express.json({ strict: false }));
        app.use('/admin', expressAdapter.adminRouter({ authorize: () => true, drainer }));
        return app as http.RequestListener;
      }],
      ['koa', (drainer: Drainer) => {
        const app = new Koa();
        const admin = koaAdapter.adminRouter(drainer, { authorize: () => true, prefix: '/admin' });
        app.use(admin.routes()).use(admin.allowedMethods());
        return app.callback();
      }],
    ] as const) {
      let listener: http.RequestListener | undefined;
      const { drainer, port, server } = await serve((req, res) => listener!(req, res));
      listener = build(drainer);
      // A second, idle keep-alive connection: a drain of "everything" would close it.
      const agent = new http.Agent({ keepAlive: true });
      await supertest(server).get('/admin/stats').agent(agent as never);
      const res = await fetch(`http://127.0.0.1:${port}/admin/drain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' });
      expect(res.status, name).toBe(400);
      const body = (await res.json()) as { code?: string; message?: string; error?: unknown };
      expect(JSON.stringify(body), name).not.toContain('draining');
      expect(drainer.stats().draining, name).toBe(0);
      expect(drainer.stats().drained, name).toBe(0);
      agent.destroy();
    }
  });

  it('Koa allowedMethods() does not answer on admin paths before authorize (no 405/OPTIONS listing admin routes)', async () => {
    const app = new Koa();
    const admin = koaAdapter.adminRouter({ prefix: '/admin', authorize: () => false });
    app.use(admin.routes()).use(admin.allowedMethods());
    const attached = koaAdapter.attach(app, { host: '127.0.0.1' });
    servers.push(attached.server);
    drainers.push(attached.drainer);
    await attached.listening;
    for (const method of ['OPTIONS', 'PUT', 'DELETE', 'GET'] as const) {
      const res = await supertest(attached.server)[method === 'OPTIONS' ? 'options' : method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : 'get']('/admin/shutdown');
      expect(res.status, method).toBe(401);
      expect(res.headers.allow, method).toBeUndefined();
    }
    // Authorized, a wrong method is still a 405 with Allow, as on Express.
    const open = new Koa();
    const openAdmin = koaAdapter.adminRouter(attached.drainer, { prefix: '/admin', authorize: () => true });
    open.use(openAdmin.routes()).use(openAdmin.allowedMethods());
    const res = await supertest(open.callback()).put('/admin/shutdown');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(attached.drainer.isReady()).toBe(true);
  });
});

describe('admin API caps the durations a request may ask for (item 8)', () => {
  it('POST /shutdown with a huge shutdownDelayMs or timeoutMs is a 400 and starts nothing; the caps are options', async () => {
    let listener: http.RequestListener | undefined;
    const { drainer, port } = await serve((req, res) => listener!(req, res));
    const app = express();
    app.use('/admin', expressAdapter.adminRouter(drainer, { authorize: () => true }));
    app.use('/capped', expressAdapter.adminRouter(drainer, { authorize: () => true, maxTimeoutMs: 1_000, maxShutdownDelayMs: 10 }));
    listener = app;
    const post = (path: string, body: object) =>
      fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const [path, body] of [
      ['/admin/shutdown', { shutdownDelayMs: 2_147_483_647 }],
      ['/admin/shutdown', { timeoutMs: 2_147_483_647 }],
      ['/admin/drain', { timeoutMs: 120_001 }],
      ['/capped/shutdown', { shutdownDelayMs: 11 }],
      ['/capped/drain', { timeoutMs: 1_001 }],
    ] as const) {
      const res = await post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('ERR_DRAIN_INVALID_OPTION');
    }
    expect(drainer.isReady()).toBe(true);
    expect(() => expressAdapter.adminRouter(drainer, { authorize: () => true, maxTimeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
  });
});

describe('natural call shapes work or say what to pass (item 12)', () => {
  it('readiness(drainer) works on Express and Koa', async () => {
    const { drainer, server } = await serve(() => undefined);
    const expressApp = express();
    expressApp.get('/ready', expressAdapter.readiness(drainer));
    const koaApp = new Koa();
    koaApp.use(koaAdapter.readiness(drainer, { retryAfterSeconds: 7 }));
    await supertest(expressApp).get('/ready').expect(200);
    await supertest(koaApp.callback()).get('/ready').expect(200);
    void drainer.shutdown({ timeoutMs: 100 });
    await supertest(expressApp).get('/ready').expect(503);
    const res = await supertest(koaApp.callback()).get('/ready').expect(503);
    expect(res.headers['retry-after']).toBe('7');
    void server;
  });

  it('adminRouter(drainer, options) works on Express and Koa', async () => {
    const { drainer } = await serve(() => undefined);
    const expressApp = express();
    expressApp.use('/admin', expressAdapter.adminRouter(drainer, { authorize: () => true }));
    const koaApp = new Koa();
    koaApp.use(koaAdapter.adminRouter(drainer, { authorize: () => true, prefix: '/admin' }).routes());
    for (const app of [expressApp, koaApp.callback()]) {
      const res = await supertest(app).get('/admin/stats').expect(200);
      expect(res.body.state).toBe('serving');
    }
    // Without the options, it names the one that is missing.
    const error = thrown(() => expressAdapter.adminRouter(drainer as never));
    expect(isDrainError(error, 'ERR_DRAIN_INVALID_OPTION')).toBe(true);
    expect((error as Error).message).toContain('authorize');
  });

  it('attach(app, drainer) and createDrainer(server, drainer) say "pass options, not a drainer"', async () => {
    const { drainer } = await serve(() => undefined);
    const errors = [
      thrown(() => expressAdapter.attach(express(), drainer as never)),
      thrown(() => koaAdapter.attach(new Koa(), drainer as never)),
      thrown(() => createDrainer(http.createServer(), drainer as never)),
    ];
    for (const error of errors) {
      expect(isDrainError(error, 'ERR_DRAIN_INVALID_OPTION'), String(error)).toBe(true);
      expect((error as Error).message).toContain('pass options, not a drainer');
      expect((error as Error).message).not.toContain('_events');
    }
  });

  it('attach(app, { port: process.env.PORT }) accepts a numeric string, as server.listen() does; a bad one shows its type', async () => {
    // A port that is free now.
    const probe = http.createServer();
    const free = await listen(probe);
    await closeServer(probe);
    const attached = expressAdapter.attach(express(), { port: String(free), host: '127.0.0.1' });
    servers.push(attached.server);
    drainers.push(attached.drainer);
    expect((await attached.listening).port).toBe(free);
    const koaAttached = koaAdapter.attach(new Koa(), { port: '0', host: '127.0.0.1' });
    servers.push(koaAttached.server);
    drainers.push(koaAttached.drainer);
    expect((await koaAttached.listening).port).toBeGreaterThan(0);
    for (const port of ['http', '', '70000', 3000.5]) {
      const error = thrown(() => expressAdapter.attach(express(), { port: port as never }));
      expect(isDrainError(error, 'ERR_DRAIN_INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toMatch(typeof port === 'string' ? /\(string\)/ : /\(number\)/);
    }
  });

  it('values in option errors show their type', () => {
    const error = thrown(() => createDrainer(http.createServer(), { timeoutMs: '3000' as never }));
    expect((error as Error).message).toContain('"3000" (string)');
  });

  it('collectDrainMetrics(drainer, registry) works; { register } is accepted as prom-client names it; swapped arguments are named', async () => {
    const { drainer } = await serve(() => undefined);
    const registry = new Registry();
    const handle = collectDrainMetrics(drainer, registry);
    expect(handle.registry).toBe(registry);
    expect(await registry.metrics()).toContain('drainkit_connections_open');
    handle.stop();
    const other = new Registry();
    const aliased = collectDrainMetrics(drainer, { register: other });
    expect(aliased.registry).toBe(other);
    aliased.stop();
    const swapped = thrown(() => collectDrainMetrics(registry as never, drainer as never));
    expect((swapped as Error).message).toContain('swapped');
    const asOptions = thrown(() => collectDrainMetrics(drainer, drainer as never));
    expect((asOptions as Error).message).toContain('pass options, not a drainer');
  });

  it('an unknown event name in drainer.on()/once() is a typed error; the drainer\'s own events and EventEmitter\'s are fine', async () => {
    const { drainer } = await serve(() => undefined);
    for (const call of [() => drainer.on('drain:ended' as never, () => undefined), () => drainer.once('shutdown' as never, () => undefined)]) {
      const error = thrown(call);
      expect(isDrainError(error, 'ERR_DRAIN_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toContain('drain:end');
    }
    expect(() => drainer.on('drain:end', () => undefined).on('error', () => undefined).once('shutdown:phase', () => undefined)).not.toThrow();
  });
});
