import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { attach, drainMiddleware } from '@drainkit/koa';
import type Koa from 'koa';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';

/**
 * A Koa app as a server kind of the shared drain suite. `shape` picks how the
 * drainer is wired: attach(app) or createDrainer(server) + drainMiddleware.
 * Every request that reaches any middleware is recorded, not only the routes.
 */
export function koaKind(name: string, KoaClass: typeof Koa, shape: 'attach' | 'middleware'): ServerKind {
  return {
    name,
    protocol: 'http/1.1',
    secure: false,
    async start() {
      const gate = slowGate();
      const app = new KoaClass();
      app.use(async (ctx, next) => {
        if (ctx.path === '/slow') {
          await gate.enterSlow(ctx.path);
          ctx.body = 'slow done';
          return;
        }
        gate.calls.push(ctx.path);
        await next();
      });
      app.use((ctx) => {
        if (ctx.path === '/fast') ctx.body = 'fast';
      });
      let server: http.Server;
      let drainer: Drainer;
      if (shape === 'attach') {
        const attached = attach(app, { host: '127.0.0.1' });
        ({ server, drainer } = attached);
        await attached.listening;
      } else {
        server = http.createServer(app.callback());
        drainer = createDrainer(server);
        app.middleware.unshift(drainMiddleware(drainer));
        await listen(server);
      }
      return kindApp(server, drainer, gate);
    },
  };
}
