import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fastify5 from 'fastify';
import type { FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';
import drainkit from '@drainkit/fastify';
import type { DrainkitOptions } from '@drainkit/fastify';
import { slowGate } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';
import { testCertificate } from '../helpers/tls.js';

export type FastifyMajor = 4 | 5;
export type FastifyShape = 'http' | 'h2c' | 'h2-secure' | 'server-factory';

export interface FastifyTestApp {
  app: FastifyInstance;
  port: number;
  gate: ReturnType<typeof slowGate>;
}

/**
 * A Fastify app with the drainkit plugin, serving the shared suite's routes
 * (/fast, /slow) on 127.0.0.1. `shape` picks the server Fastify builds:
 * HTTP/1.1, h2c (`http2: true`), h2 over TLS, or one from `serverFactory`.
 */
export interface StartOptions {
  /** The plugin's options (timeoutMs defaults to 2 000 here). */
  drainkit?: DrainkitOptions;
  /** Fastify's own options (forceCloseConnections, return503OnClosing...). */
  fastify?: Record<string, unknown>;
  /** More routes, added after the shared ones and before listen(). */
  routes?: (app: FastifyInstance) => void;
  host?: string;
}

export async function startFastifyApp(major: FastifyMajor, shape: FastifyShape, start: StartOptions = {}): Promise<FastifyTestApp> {
  const fastifyOptions = start.fastify ?? {};
  const factory = fastifyFactory(major);
  const opts: Record<string, unknown> = { ...fastifyOptions };
  if (shape === 'h2c') opts.http2 = true;
  if (shape === 'h2-secure') Object.assign(opts, { http2: true, https: await testCertificate() });
  if (shape === 'server-factory') opts.serverFactory = (handler: http.RequestListener) => http.createServer(handler);
  const app = factory(opts);
  const gate = slowGate();
  await app.register(drainkit, { timeoutMs: 2_000, ...start.drainkit });
  app.get('/slow', async (request) => {
    await gate.enterSlow(request.url);
    return 'slow done';
  });
  app.get('/fast', async (request) => {
    gate.calls.push(request.url);
    return 'fast';
  });
  start.routes?.(app);
  await app.listen({ port: 0, host: start.host ?? '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port, gate };
}

export function fastifyFactory(major: FastifyMajor): (opts?: object) => FastifyInstance {
  return (major === 4 ? fastify4 : fastify5) as unknown as (opts?: object) => FastifyInstance;
}

export function fastifyKind(major: FastifyMajor, shape: FastifyShape): ServerKind {
  return {
    name: `fastify ${major} (${shape}, plugin)`,
    protocol: shape === 'h2c' || shape === 'h2-secure' ? 'h2' : 'http/1.1',
    secure: shape === 'h2-secure',
    async start() {
      const { app, port, gate } = await startFastifyApp(major, shape);
      return {
        port,
        drainer: app.drainer,
        calls: gate.calls,
        release: gate.release,
        slowStarted: gate.slowStarted,
        async close() {
          gate.release();
          // app.close() drains whatever the test left open, through the plugin.
          await app.close();
        },
      };
    },
  };
}
