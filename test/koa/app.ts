import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { adminRouter, attach, drainMiddleware, liveness, readiness } from '@drainkit/koa';
import Router from '@koa/router';
import type Koa from 'koa';
import type { Context } from 'koa';
import { basicAuthorize, slowRoute, testApp } from '../adapters/test-app.js';
import type { TestApp, TestAppOptions } from '../adapters/test-app.js';
import { listen } from '../helpers/net.js';

/** A Koa app with every adapter feature on the routes of TestApp, on 127.0.0.1. */
export async function startKoaApp(KoaClass: typeof Koa, options: TestAppOptions = {}): Promise<TestApp> {
  const app = new KoaClass();
  const seen: string[] = [];
  const slow = slowRoute();
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
    await slow.enter();
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
  routes.get('/live', liveness());
  app.use(routes.routes());
  const { authorize = basicAuthorize, ...adminOptions } = options.admin ?? {};
  const admin = adminRouter({ ...adminOptions, prefix: '/admin', authorize: (ctx: Context) => authorize((name) => ctx.get(name)) });
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
  return testApp({ server, drainer, port, seen, slow });
}
