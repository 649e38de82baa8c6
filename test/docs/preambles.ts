/**
 * What a documentation fragment (`<!-- doc-test: fragment NAME -->`) may use
 * without declaring it: the application, drainer, request... that the text
 * around it has introduced. Each preamble is prepended to the fragment in the
 * same file, so it must not import names the fragments import themselves:
 * types come through `import('...')` type queries.
 */
export interface Preamble {
  lang: 'ts' | 'js';
  commonjs?: boolean;
  code: string;
}

const jsDrainer = `
import http from 'node:http';
import { createDrainer } from '@drainkit/core';
const server = http.createServer((_req, res) => res.end('ok'));
const drainer = createDrainer(server);
`;

export const preambles: Record<string, Preamble> = {
  /** README's API listing: a request handler, a connection id, a request, a WebSocket map, a database and a service registry. */
  'core-api': {
    lang: 'ts',
    code: `
declare const handler: import('node:http').RequestListener;
declare const id: string;
declare const req: import('node:http').IncomingMessage;
declare const sockets: Map<import('node:stream').Duplex, { close(code: number, reason: string): void }>;
declare const db: { close(): Promise<void>; ping(options: { signal: AbortSignal }): Promise<void> };
declare const discovery: { deregister(): Promise<void> };
`,
  },
  /** A plain node:http server and its drainer. */
  drainer: { lang: 'js', code: jsDrainer },
  /** The same, inside a request handler: req, res. */
  'drainer-request': {
    lang: 'js',
    code: `${jsDrainer}
/** @type {import('node:http').IncomingMessage} */
const req = /** @type {any} */ (undefined);
/** @type {import('node:http').ServerResponse} */
const res = /** @type {any} */ (undefined);
`,
  },
  /** A node:http server, no drainer yet. */
  server: {
    lang: 'js',
    code: `
import http from 'node:http';
const server = http.createServer((_req, res) => res.end('ok'));
`,
  },
  /** A server and a drainer, for prometheus: a prom-client registry. */
  'drainer-registry': {
    lang: 'js',
    code: `${jsDrainer}
import { Registry } from 'prom-client';
const registry = new Registry();
`,
  },
  /** An Express app and @drainkit/express's exports (fragments import nothing). */
  'express-app': {
    lang: 'js',
    code: `
import express from 'express';
import { createDrainer } from '@drainkit/core';
import { adminRouter, drainMiddleware, liveness, readiness } from '@drainkit/express';
const app = express();
/** @type {import('@drainkit/express').ExpressAdminOptions['authorize']} */
const authorize = () => true;
`,
  },
  /** A Koa app, a @koa/router router and @drainkit/koa's exports. */
  'koa-app': {
    lang: 'js',
    code: `
import http from 'node:http';
import Koa from 'koa';
import { Router } from '@koa/router';
import { createDrainer } from '@drainkit/core';
import { adminRouter, drainMiddleware, liveness, readiness } from '@drainkit/koa';
const app = new Koa();
const router = new Router();
/** @type {import('@drainkit/koa').KoaAdminOptions['authorize']} */
const authorize = () => true;
`,
  },
  /** docs/kubernetes.md: a database pool. */
  pool: {
    lang: 'js',
    code: `
const pool = { end: async () => {} };
`,
  },
  /** docs/kubernetes.md, health checks and beforeShutdown: a drainer, a service registry, a queue consumer, a database pool, a cache. */
  'drainer-deps': {
    lang: 'js',
    code: `${jsDrainer}
const consul = { agent: { service: { deregister: async (/** @type {string} */ _id) => {} } } };
const serviceId = 'app-1';
const consumer = { pause: async () => {} };
const pool = { query: async (/** @type {string} */ _sql, /** @type {{ signal: AbortSignal }} */ _options) => {} };
const redis = { ping: async () => 'PONG' };
`,
  },
  /** docs/pm2.md (CommonJS): the application's request listener and a database. */
  'cjs-app': {
    lang: 'js',
    commonjs: true,
    code: `
/** @type {import('node:http').RequestListener} */
const app = (_req, res) => {
  res.end('ok');
};
const db = { close: async () => {} };
`,
  },
  /** docs/pm2.md (ESM): the application's request listener. */
  'app-listener': {
    lang: 'js',
    code: `
/** @type {import('node:http').RequestListener} */
const app = (_req, res) => {
  res.end('ok');
};
`,
  },
  /** Nest fragments: the imports a Nest file has, an AdminGuard, and the application (main.ts). */
  nest: {
    lang: 'ts',
    code: `
import { Controller, Get, Header, Module, Param, Post, Sse, UseFilters, UseGuards } from '@nestjs/common';
import type { CanActivate, INestApplication, MessageEvent } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Conn, DrainAfterResponse, DrainErrorFilter, DrainHealthIndicator, DrainModule, DrainService, DrainSignal } from '@drainkit/nestjs';
import type { ConnectionInfo } from '@drainkit/core';
import { concat, fromEvent, interval, map, of, takeUntil } from 'rxjs';
import type { Observable } from 'rxjs';
class AdminGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}
declare const app: INestApplication;
`,
  },
};
