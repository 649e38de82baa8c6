import http from 'node:http';
import { isDrainError } from '@drainkit/core';
import drainkit from '@drainkit/fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, get, request, until } from '../helpers/net.js';
import { fastifyFactory, startFastifyApp } from './fastify-kind.js';
import type { FastifyMajor, FastifyTestApp, StartOptions } from './fastify-kind.js';

const majors: FastifyMajor[] = [4, 5];

describe.each(majors)('@drainkit/fastify on Fastify %i', (major) => {
  let current: FastifyTestApp | undefined;
  const clients: RawClient[] = [];
  const agents: http.Agent[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    for (const agent of agents.splice(0)) agent.destroy();
    current?.gate.release();
    await current?.app.close();
    current = undefined;
  });

  async function start(options: StartOptions = {}): Promise<FastifyTestApp> {
    current = await startFastifyApp(major, 'http', options);
    return current;
  }

  async function connect(port: number): Promise<RawClient> {
    const client = await RawClient.connect(port);
    clients.push(client);
    return client;
  }

  // Fastify's defaults (return503OnClosing on, forceCloseConnections 'idle'), and the most destructive setting.
  it.each([{}, { forceCloseConnections: true }])(
    'app.close() with Fastify options %j: idle connections get a FIN, the in-flight request finishes with Connection: close, pipelined requests never run',
    async (fastifyOptions) => {
      const { app, port, gate } = await start({ fastify: fastifyOptions });
      const idle = await connect(port);
      idle.write(get('/fast'));
      await idle.waitFor((data) => data.includes('fast'), 'the idle client response');
      const busy = await connect(port);
      const started = gate.slowStarted();
      busy.write(get('/slow') + get('/fast'));
      await started;

      let closed = false;
      const closing = app.close().then(() => (closed = true));
      await idle.waitForEnd();
      expect(idle.error).toBeUndefined();
      expect(app.drainer.isReady()).toBe(false);
      // The in-flight request holds close() open.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(closed).toBe(false);

      gate.release();
      await busy.waitForEnd();
      expect(busy.error).toBeUndefined();
      expect(busy.responseCount).toBe(1);
      expect(busy.data).toMatch(/^HTTP\/1\.1 200/);
      expect(busy.data).toMatch(/connection: close/i);
      expect(busy.data).toContain('slow done');
      await closing;
      expect(gate.calls).toEqual(['/fast', '/slow']);
      expect(app.drainer.state).toBe('closed');
      expect(app.drainer.stats()).toMatchObject({ open: 0, forcedClosed: 0 });
    },
  );

  it('readiness answers 503 with Retry-After once close() starts; liveness and routes keep serving during shutdownDelayMs', async () => {
    const { app, port } = await start({
      drainkit: { readinessPath: '/ready', livenessPath: '/live', retryAfterSeconds: 7, shutdownDelayMs: 400 },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const before = await request(agent, port, '/ready');
    expect(before.status).toBe(200);
    expect(JSON.parse(before.body)).toMatchObject({ ready: true, state: 'serving' });
    expect(before.headers['retry-after']).toBeUndefined();

    const closing = app.close();
    const ready = await request(agent, port, '/ready');
    expect(ready.status).toBe(503);
    expect(ready.headers['retry-after']).toBe('7');
    expect(ready.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(ready.body)).toMatchObject({ ready: false, state: 'shutting-down' });
    const live = await request(agent, port, '/live');
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toMatchObject({ alive: true, state: 'shutting-down' });
    // Fastify's own return503OnClosing would answer this 503: the drain runs before Fastify starts closing.
    const fast = await request(agent, port, '/fast');
    expect(fast).toMatchObject({ status: 200, body: 'fast' });
    await closing;
  });

  it('the deadline forces a handler that never finishes; close() resolves and the report says so', async () => {
    const { app, port, gate } = await start({ drainkit: { timeoutMs: 150 } });
    const busy = await connect(port);
    const started = gate.slowStarted();
    busy.write(get('/slow'));
    await started;
    const startedAt = Date.now();
    await app.close();
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    const report = await app.drainer.shutdown();
    expect(report).toMatchObject({ kind: 'shutdown', total: 1, forced: 1 });
    await busy.closed;
    expect(busy.responseCount).toBe(0);
  });

  it('request.drain: the connection, a signal that aborts on shutdown, drainAfterResponse()', async () => {
    let aborted: unknown;
    const { app, port, gate } = await start({
      routes(instance) {
        instance.get('/info', async (req) => {
          const first = req.drain;
          return { id: first.connection?.id, protocol: first.connection?.protocol, same: first === req.drain };
        });
        instance.get('/logout', async (req) => {
          void req.drain.drainAfterResponse();
          return 'bye';
        });
        instance.get('/watch', async (req) => {
          req.drain.signal.addEventListener('abort', () => (aborted = req.drain.signal.reason));
          await gate.enterSlow('/watch');
          return 'watched';
        });
      },
    });
    const client = await connect(port);
    client.write(get('/info'));
    await client.waitFor((data) => data.includes('}'), '/info');
    const info = JSON.parse(client.data.slice(client.data.indexOf('{'))) as { id: string; protocol: string; same: boolean };
    const tracked = app.drainer.connections().find((c) => c.remotePort === client.socket.localPort);
    expect(info).toEqual({ id: tracked?.id, protocol: 'http/1.1', same: true });

    const leaving = await connect(port);
    leaving.write(get('/logout'));
    await leaving.waitForEnd();
    expect(leaving.error).toBeUndefined();
    expect(leaving.data).toMatch(/connection: close/i);
    expect(leaving.data).toContain('bye');

    const watcher = await connect(port);
    const started = gate.slowStarted();
    watcher.write(get('/watch'));
    await started;
    const closing = app.close();
    await until(() => aborted !== undefined, 2_000, 'the drain signal');
    expect(isDrainError(aborted) && aborted.code).toBe('ERR_DRAIN_SHUTTING_DOWN');
    gate.release();
    await closing;
    expect(watcher.data).toContain('watched');
  });

  it('refuses bad options and a second registration with a DrainError', async () => {
    const cases: Array<[object, string]> = [
      [{ readinessPath: 'ready' }, 'ERR_DRAIN_INVALID_OPTION'],
      [{ timeoutMs: -1 }, 'ERR_DRAIN_INVALID_OPTION'],
      [{ shutdownDelay: 5 }, 'ERR_DRAIN_INVALID_OPTION'],
      [{ retryAfterSeconds: 1.5, readinessPath: '/ready' }, 'ERR_DRAIN_INVALID_OPTION'],
      [{ handleSignals: 'yes' }, 'ERR_DRAIN_INVALID_OPTION'],
      [{ handleSignals: { signal: ['SIGTERM'] } }, 'ERR_DRAIN_INVALID_OPTION'],
    ];
    for (const [options, code] of cases) {
      const app = fastifyFactory(major)();
      await expect(app.register(drainkit, options as never).ready(), JSON.stringify(options)).rejects.toMatchObject({ code });
      await app.close().catch(() => undefined);
    }
    const twice = fastifyFactory(major)();
    await twice.register(drainkit);
    await expect(twice.register(drainkit).ready()).rejects.toMatchObject({ code: 'ERR_DRAIN_ALREADY_ATTACHED' });
    await twice.close().catch(() => undefined);
  });
});
