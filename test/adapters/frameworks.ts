import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';
import * as expressAdapter from '@drainkit/express';
import * as koaAdapter from '@drainkit/koa';
import Router from '@koa/router';
import express from 'express';
import express4 from 'express4';
import Koa from 'koa';
import Koa2 from 'koa2';
import { startExpressApp } from '../express/app.js';
import { startKoaApp } from '../koa/app.js';
import type { TestApp, TestAppOptions } from './test-app.js';

/**
 * One framework major as the adapter suites in test/adapters/ see it: the
 * adapter package's helpers, called on that major's apps, and the few app
 * shapes a suite builds itself. Each suite runs over every variant with
 * describe.each(frameworks).
 */
export interface FrameworkVariant {
  /** 'express 5', 'koa 2'... */
  name: string;
  family: 'express' | 'koa';
  /** The app of test-app.ts, built with this framework. */
  start(options?: TestAppOptions): Promise<TestApp>;
  /** The adapter's attach() on a fresh app. */
  attach(options?: unknown): { server: http.Server; drainer: Drainer; listening: Promise<AddressInfo> };
  drainMiddleware(drainer: unknown): unknown;
  readiness(options?: unknown): unknown;
  adminRouter(options?: unknown): unknown;
  /**
   * An app without the drain middleware whose admin router (at /explicit-admin,
   * authorize always true) and readiness (at /explicit-ready, Retry-After 9)
   * are given `drainer` explicitly.
   */
  explicitDrainerApp(drainer: Drainer): http.RequestListener;
  /** An app with drainMiddleware(drainer) first that answers every request with the text respond() makes of its drain. */
  appWithDrainMiddleware(drainer: Drainer, respond: (drain: RequestDrain) => string): http.RequestListener;
}

function expressVariant(name: string, expressFactory: typeof express): FrameworkVariant {
  return {
    name,
    family: 'express',
    start: (options) => startExpressApp(expressFactory, options),
    attach: (options) => expressAdapter.attach(expressFactory(), options as never),
    drainMiddleware: (drainer) => expressAdapter.drainMiddleware(drainer as never),
    readiness: (options) => expressAdapter.readiness(options as never),
    adminRouter: (options) => expressAdapter.adminRouter(options as never),
    explicitDrainerApp(drainer) {
      const router = expressFactory.Router();
      router.use('/explicit-admin', expressAdapter.adminRouter({ authorize: () => true, drainer }));
      const app = expressFactory();
      app.use(router);
      app.get('/explicit-ready', expressAdapter.readiness({ drainer, retryAfterSeconds: 9 }));
      return app;
    },
    appWithDrainMiddleware(drainer, respond) {
      const app = expressFactory();
      app.use(expressAdapter.drainMiddleware(drainer));
      app.use((req, res) => {
        res.send(respond(req.drain));
      });
      return app;
    },
  };
}

function koaVariant(name: string, KoaClass: typeof Koa): FrameworkVariant {
  return {
    name,
    family: 'koa',
    start: (options) => startKoaApp(KoaClass, options),
    attach: (options) => koaAdapter.attach(new KoaClass(), options as never),
    drainMiddleware: (drainer) => koaAdapter.drainMiddleware(drainer as never),
    readiness: (options) => koaAdapter.readiness(options as never),
    adminRouter: (options) => koaAdapter.adminRouter(options as never),
    explicitDrainerApp(drainer) {
      const app = new KoaClass();
      const admin = koaAdapter.adminRouter({ authorize: () => true, drainer, prefix: '/explicit-admin' });
      const ready = new Router();
      ready.get('/explicit-ready', koaAdapter.readiness({ drainer, retryAfterSeconds: 9 }));
      app.use(admin.routes()).use(ready.routes());
      return app.callback();
    },
    appWithDrainMiddleware(drainer, respond) {
      const app = new KoaClass();
      app.use(koaAdapter.drainMiddleware(drainer));
      app.use((ctx) => {
        ctx.body = respond(ctx.state.drain);
      });
      return app.callback();
    },
  };
}

/** Every framework major the adapters support (express4 and koa2 are npm aliases of the older majors). */
export const frameworks: readonly FrameworkVariant[] = [
  expressVariant('express 5', express),
  expressVariant('express 4', express4),
  koaVariant('koa 3', Koa),
  koaVariant('koa 2', Koa2),
];
