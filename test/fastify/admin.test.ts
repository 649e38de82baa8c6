import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDrainer } from '@drainkit/core';
import { adminRouter, drainMiddleware } from '@drainkit/express';
import drainkit, { drainkitAdmin } from '@drainkit/fastify';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_AUTH } from '../adapters/test-app.js';
import { closeServer, listen } from '../helpers/net.js';
import { fastifyFactory } from './fastify-kind.js';
import type { FastifyMajor } from './fastify-kind.js';

interface Probe {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

const json = { 'content-type': 'application/json' };
const auth = { authorization: ADMIN_AUTH };

// Every status the admin API can answer, in an order that leaves the shutdown for last.
const probes: Probe[] = [
  { method: 'GET', path: '/admin/stats' },
  { method: 'GET', path: '/admin/stats', headers: { authorization: 'Basic d3Jvbmc6d3Jvbmc=' } },
  { method: 'GET', path: '/admin/stats', headers: auth },
  { method: 'HEAD', path: '/admin/stats', headers: auth },
  { method: 'GET', path: '/admin', headers: auth },
  { method: 'GET', path: '/admin/connections', headers: auth },
  { method: 'GET', path: '/admin/shutdown', headers: auth },
  { method: 'POST', path: '/admin/stats', headers: auth },
  { method: 'DELETE', path: '/admin/connections', headers: auth },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, ...json }, body: '{nope' },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, ...json }, body: '[1]' },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, ...json }, body: '{"protocol":"spdy"}' },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, 'content-type': 'application/merge-patch+json' }, body: `{"ids":"x-${'y'.repeat(300)}"}` },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, ...json }, body: `{"ids":"${'z'.repeat(600)}"}` },
  { method: 'POST', path: '/admin/connections/nope/drain', headers: { ...auth, ...json }, body: '{}' },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, ...json }, body: '' },
  { method: 'POST', path: '/admin/drain', headers: { ...auth, ...json }, body: '{"state":"idle","timeoutMs":500}' },
  { method: 'POST', path: '/admin/shutdown', headers: { ...auth, ...json }, body: '{"timeoutMs":"soon"}' },
  { method: 'POST', path: '/admin/shutdown', headers: { ...auth, ...json }, body: '{}' },
];

interface Seen {
  status: number;
  allow: string | undefined;
  challenge: string | undefined;
  type: string | undefined;
  code: string | undefined;
}

/** One probe on a fresh connection (Connection: close), so a drain started by an earlier probe does not touch it. */
function send(port: number, probe: Probe): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const headers = { connection: 'close', ...probe.headers };
    const req = http.request({ host: '127.0.0.1', port, method: probe.method, path: probe.path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(body) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          allow: res.headers.allow,
          challenge: res.headers['www-authenticate'],
          type: res.headers['content-type']?.split(';')[0],
          code,
        });
      });
    });
    req.on('error', reject);
    req.end(probe.body);
  });
}

const authorize = (header: string | undefined) => header === ADMIN_AUTH;

/** The reference: Express 5 with the drain middleware and adminRouter at /admin, no body parser. */
async function startExpress(): Promise<{ port: number; close(): Promise<void> }> {
  const app = express();
  const server = http.createServer(app);
  const drainer = createDrainer(server, { timeoutMs: 1_000 });
  app.use(drainMiddleware(drainer));
  app.use('/admin', adminRouter({ authorize: (req) => authorize(req.get('authorization')), bodyLimit: 512 }));
  const port = await listen(server);
  return {
    port,
    async close() {
      drainer.dispose();
      await closeServer(server);
    },
  };
}

describe.each([4, 5] as FastifyMajor[])('drainkitAdmin on Fastify %i', (major) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('answers every admin request with the status, Allow, challenge and error code the Express router gives', async () => {
    const reference = await startExpress();
    cleanups.push(() => reference.close());
    const app = fastifyFactory(major)();
    cleanups.push(() => app.close());
    await app.register(drainkit, { timeoutMs: 1_000 });
    await app.register(drainkitAdmin, { prefix: '/admin', authorize: (request) => authorize(request.headers.authorization), bodyLimit: 512 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    for (const probe of probes) {
      const [expected, actual] = [await send(reference.port, probe), await send(port, probe)];
      expect(actual, `${probe.method} ${probe.path} ${probe.body ?? ''}`).toEqual(expected);
    }
    // The last probe shut the Fastify app's drainer down, as the admin API says.
    expect(app.drainer.state).not.toBe('serving');
  });

  it('refuses to register without authorize, and without a drainer', async () => {
    const open = fastifyFactory(major)();
    await open.register(drainkit);
    await expect(open.register(drainkitAdmin, { prefix: '/admin' } as never).ready()).rejects.toMatchObject({
      code: 'ERR_DRAIN_INVALID_OPTION',
      message: expect.stringContaining('authorize'),
    });
    await open.close().catch(() => undefined);

    const noDrainer = fastifyFactory(major)();
    await expect(noDrainer.register(drainkitAdmin, { authorize: () => true }).ready()).rejects.toMatchObject({ code: 'ERR_DRAIN_NOT_ATTACHED' });
    await noDrainer.close().catch(() => undefined);
  });

  it('acts on the drainer it is given, without the plugin', async () => {
    const app = fastifyFactory(major)();
    cleanups.push(() => app.close());
    const drainer = createDrainer(app.server);
    cleanups.push(async () => drainer.dispose());
    await app.register(drainkitAdmin, { prefix: '/ops', authorize: () => true, drainer });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const seen = await send(port, { method: 'GET', path: '/ops/stats' });
    expect(seen).toMatchObject({ status: 200, type: 'application/json' });
    expect(drainer.stats().accepted).toBe(1);
  });
});
