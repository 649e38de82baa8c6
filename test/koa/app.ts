import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import { adminRouter, attach, drainMiddleware, readiness } from '@drainkit/koa';
import type { KoaAdminOptions } from '@drainkit/koa';
import Router from '@koa/router';
import type Koa from 'koa';
import type { Context } from 'koa';
import { closeServer, deferred, listen } from '../helpers/net.js';

export const ADMIN_AUTH = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;

/** The test's authorize: Basic admin:s3cret; false otherwise (401 without credentials, 403 with wrong ones). */
export const basicAuthorize = (ctx: Context): boolean => ctx.get('authorization') === ADMIN_AUTH;

export interface KoaTestApp {
  app: Koa;
  server: http.Server;
  drainer: Drainer;
  port: number;
  /** Every path that reached Koa at all (the first application middleware records it). */
  seen: string[];
  slowStarted(): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export interface KoaTestOptions {
  shape?: 'attach' | 'middleware';
  drainerOptions?: DrainerOptions;
  /** Admin router options; `authorize` defaults to basicAuthorize, `prefix` to '/admin'. */
  admin?: Partial<KoaAdminOptions>;
  /** A tiny JSON body parser in front (sets ctx.request.body, as @koa/bodyparser does). */
  json?: boolean;
  withoutDrainMiddleware?: boolean;
}

/** A Koa app with every adapter feature on routes the tests call, on 127.0.0.1. */
export async function startKoaApp(KoaClass: typeof Koa, options: KoaTestOptions = {}): Promise<KoaTestApp> {
  const app = new KoaClass();
  const seen: string[] = [];
  let gate = deferred();
  let startWaiters: Array<() => void> = [];
  const shape = options.withoutDrainMiddleware ? 'none' : (options.shape ?? 'attach');
  // The documented order without attach(): server, drainer, then the drain middleware first.
  const plainServer = shape === 'attach' ? undefined : http.createServer();
  const plainDrainer = plainServer ? createDrainer(plainServer, options.drainerOptions) : undefined;
  if (shape === 'middleware') app.use(drainMiddleware(plainDrainer!));
  // Error codes become the body, as an application's error middleware would do.
  app.use(async (ctx, next) => {
    seen.push(ctx.path);
    try {
      await next();
    } catch (error) {
      const err = error as { status?: number; code?: string; message: string };
      ctx.status = err.status ?? 500;
      ctx.body = { code: err.code ?? null, message: err.message };
    }
  });
  if (options.json) {
    app.use(async (ctx, next) => {
      if (ctx.is('application/json')) {
        let text = '';
        for await (const chunk of ctx.req) text += String(chunk);
        (ctx.request as { body?: unknown }).body = text === '' ? {} : JSON.parse(text);
      }
      await next();
    });
  }
  const routes = new Router();
  routes.get('/fast', (ctx) => {
    ctx.body = 'fast';
  });
  routes.get('/slow', async (ctx) => {
    for (const wake of startWaiters.splice(0)) wake();
    await gate.promise;
    ctx.body = 'slow done';
  });
  routes.get('/info', (ctx) => {
    ctx.body = {
      connection: ctx.state.drain.connection?.toJSON() ?? null,
      aborted: ctx.state.drain.signal.aborted,
      sameDrainer: ctx.state.drain.drainer === drainer,
    };
  });
  routes.get('/logout', (ctx) => {
    void ctx.state.drain.drainAfterResponse();
    ctx.body = 'bye';
  });
  routes.get('/events', (ctx) => {
    // SSE: write straight to the response and end it when the drain signal fires.
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write('data: hello\n\n');
    const signal = ctx.state.drain.signal;
    signal.addEventListener('abort', () => res.end(`event: bye\ndata: ${(signal.reason as { code?: string }).code}\n\n`));
  });
  routes.get('/ready', readiness());
  app.use(routes.routes());
  const admin = adminRouter({ authorize: basicAuthorize, prefix: '/admin', ...options.admin });
  app.use(admin.routes()).use(admin.allowedMethods());

  let server: http.Server;
  let drainer: Drainer;
  let port: number;
  if (shape === 'attach') {
    // After every middleware on purpose: attach() puts the drain middleware first anyway.
    const attached = attach(app, { host: '127.0.0.1', ...options.drainerOptions });
    ({ server, drainer } = attached);
    port = (await attached.listening).port;
  } else {
    server = plainServer!;
    drainer = plainDrainer!;
    server.on('request', app.callback());
    port = await listen(server);
  }
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
