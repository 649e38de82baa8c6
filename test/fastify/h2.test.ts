import { afterEach, describe, expect, it } from 'vitest';
import { connectH2, h2Request } from '../helpers/h2.js';
import { until } from '../helpers/net.js';
import type { H2Client } from '../helpers/h2.js';
import { startFastifyApp } from './fastify-kind.js';
import type { FastifyTestApp } from './fastify-kind.js';

// Fastify 5 with `http2: true`, without TLS (h2c, prior knowledge) and with `https` (ALPN h2).
describe.each([
  ['h2c', false],
  ['h2-secure', true],
] as const)('@drainkit/fastify over HTTP/2 (%s)', (shape, secure) => {
  let current: FastifyTestApp | undefined;
  const clients: H2Client[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.session.destroy();
    current?.gate.release();
    await current?.app.close();
    current = undefined;
  });

  async function start(drainkit = {}): Promise<FastifyTestApp> {
    current = await startFastifyApp(5, shape, {
      drainkit,
      routes(app) {
        app.get('/info', async (request) => ({ protocol: request.drain.connection?.protocol, secure: request.drain.connection?.secure }));
      },
    });
    return current;
  }

  async function connect(port: number): Promise<H2Client> {
    const client = await connectH2(port, secure);
    clients.push(client);
    return client;
  }

  it('app.close(): GOAWAY, the in-flight stream completes, close() resolves after the session is gone', async () => {
    const { app, port, gate } = await start({ readinessPath: '/ready' });
    const client = await connect(port);
    const info = await h2Request(client.session, '/info');
    expect(JSON.parse(info.body)).toEqual({ protocol: 'h2', secure });
    const started = gate.slowStarted();
    const slow = h2Request(client.session, '/slow');
    await started;
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    // The GOAWAY follows the listener's close (the kernel's queue accepted first: a few loop turns).
    await until(() => client.goaways.length > 0, 5_000, 'a GOAWAY');
    expect(closed).toBe(false);
    gate.release();
    expect(await slow).toMatchObject({ status: 200, body: 'slow done', ended: true, rstCode: undefined });
    await closing;
    await client.closed;
    expect(client.errors).toEqual([]);
    expect(app.drainer.stats()).toMatchObject({ open: 0, forcedClosed: 0 });
  });

  it('readiness over h2: 503 with Retry-After during shutdownDelayMs, while other streams are still served', async () => {
    const { app, port } = await start({ readinessPath: '/ready', livenessPath: '/live', shutdownDelayMs: 300 });
    const client = await connect(port);
    expect((await h2Request(client.session, '/ready')).status).toBe(200);
    const closing = app.close();
    const ready = await new Promise<{ status: number; retryAfter: unknown }>((resolve) => {
      const stream = client.session.request({ ':path': '/ready' });
      stream.on('response', (headers) => resolve({ status: Number(headers[':status']), retryAfter: headers['retry-after'] }));
      stream.resume();
      stream.end();
    });
    expect(ready).toEqual({ status: 503, retryAfter: '5' });
    expect((await h2Request(client.session, '/live')).status).toBe(200);
    expect(await h2Request(client.session, '/fast')).toMatchObject({ status: 200, body: 'fast' });
    await closing;
  });
});
