import http from 'node:http';
import { DrainError, createDrainer, isDrainError } from '@drainkit/core';
import type { DrainResult } from '@drainkit/core';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { parseResponses } from '../express/raw-responses.js';
import { RawClient, closeServer, get, request } from '../helpers/net.js';
import { frameworks } from './frameworks.js';
import type { TestApp, TestAppOptions } from './test-app.js';

describe.each(frameworks)('drain middleware, attach() and readiness() on $name', (framework) => {
  let target: TestApp | undefined;
  const clients: RawClient[] = [];
  const agents: http.Agent[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    for (const agent of agents.splice(0)) agent.destroy();
    await target?.close();
    target = undefined;
  });

  async function start(options?: TestAppOptions): Promise<TestApp> {
    target = await framework.start(options);
    return target;
  }

  async function connect(port: number): Promise<RawClient> {
    const client = await RawClient.connect(port);
    clients.push(client);
    return client;
  }

  function idOf(app: TestApp, client: RawClient): string {
    const found = app.drainer.connections().find((c) => c.remotePort === client.socket.localPort);
    if (!found) throw new Error('connection not tracked');
    return found.id;
  }

  describe.each(['attach', 'middleware'] as const)('wired with %s', (shape) => {
    it('gives the request req.drain: its connection, a live signal and the drainer', async () => {
      const app = await start({ shape });
      const res = await supertest(app.server).get('/info').expect(200);
      const body = res.body as { connection: { id: string; protocol: string; state: string; inFlight: number }; aborted: boolean; sameDrainer: boolean };
      expect(body.connection).toMatchObject({ protocol: 'http/1.1', state: 'active', inFlight: 1 });
      expect(body.connection.id).toMatch(/^\d+-\d+$/);
      expect(body.aborted).toBe(false);
      expect(body.sameDrainer).toBe(true);
    });
  });

  it('drainMiddleware refuses what is not a drainer', () => {
    expect(() => framework.drainMiddleware({})).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
  });

  it('readiness() validates its options', () => {
    for (const options of [{ retryAfterSeconds: -1 }, { retryAfterSeconds: 1.5 }, { drainer: {} }, { bogus: 1 }, 'fast']) {
      expect(() => framework.readiness(options), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    }
  });

  it('attach() validates its options before it listens', () => {
    expect(() => framework.attach({ port: -1 })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => framework.attach({ port: 0, timeoutMs: -5 })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => framework.attach({ port: 0, bogus: true })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
  });

  it('attach().listening rejects when the port is taken', async () => {
    const app = await start();
    const second = framework.attach({ port: app.port, host: '127.0.0.1' });
    await expect(second.listening).rejects.toMatchObject({ code: 'EADDRINUSE' });
    second.drainer.dispose();
  });

  it('drainAfterResponse() throws ERR_DRAIN_UNKNOWN_CONNECTION on a server the drainer does not track', async () => {
    const tracked = http.createServer();
    const drainer = createDrainer(tracked);
    let caught: unknown;
    const app = framework.appWithDrainMiddleware(drainer, (drain) => {
      try {
        void drain.drainAfterResponse();
      } catch (error) {
        caught = error;
      }
      return drain.connection === undefined ? 'untracked' : 'tracked';
    });
    tracked.on('request', app);
    // supertest(app) serves the app on a server of its own, which this drainer never saw.
    const res = await supertest(app).get('/logout').expect(200);
    expect(res.text).toBe('untracked');
    expect(caught).toBeInstanceOf(DrainError);
    expect(isDrainError(caught, 'ERR_DRAIN_UNKNOWN_CONNECTION')).toBe(true);
    drainer.dispose();
    await closeServer(tracked);
  });

  it('drainAfterResponse() closes exactly that connection after its response, and no other', async () => {
    const app = await start();
    const leaving = await connect(app.port);
    const staying = await connect(app.port);
    staying.write(get('/fast'));
    await staying.waitFor(() => parseResponses(staying.data).length === 1, 'first /fast');
    const leavingId = idOf(app, leaving);
    const drained = new Promise<DrainResult>((resolve) => app.drainer.once('connection:drained', resolve));

    leaving.write(get('/logout'));
    await leaving.waitForEnd();
    const [response] = parseResponses(leaving.data);
    expect(response).toMatchObject({ status: 200, body: 'bye' });
    expect(response!.headers.connection).toBe('close');
    await leaving.closed;
    expect(leaving.error).toBeUndefined();
    expect(await drained).toMatchObject({ id: leavingId, forced: false, completedRequests: 1, reason: 'drain-after-response' });

    // The other connection is untouched: it keeps serving on the same socket.
    staying.write(get('/fast'));
    await staying.waitFor(() => parseResponses(staying.data).length === 2, 'second /fast');
    expect(parseResponses(staying.data).map((r) => r.headers.connection)).toEqual(['keep-alive', 'keep-alive']);
    expect(staying.ended).toBe(false);
    expect(app.drainer.connections().map((c) => c.remotePort)).toEqual([staying.socket.localPort]);
  });

  it('drainAfterResponse() with a keep-alive agent: the next request goes out on a fresh socket', async () => {
    const app = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    expect((await request(agent, app.port, '/fast')).body).toBe('fast');
    const second = await request(agent, app.port, '/fast');
    expect(second.socketReused).toBe(true);
    const logout = await request(agent, app.port, '/logout');
    expect(logout).toMatchObject({ status: 200, body: 'bye', socketReused: true });
    expect(logout.headers.connection).toBe('close');
    const after = await request(agent, app.port, '/fast');
    expect(after).toMatchObject({ status: 200, socketReused: false });
    expect(app.drainer.stats()).toMatchObject({ drained: 1, forcedClosed: 0 });
  });

  it('readiness flips to 503 with Retry-After the moment shutdown() starts, while an in-flight request finishes', async () => {
    const app = await start({ drainerOptions: { shutdownDelayMs: 300, timeoutMs: 5_000 } });
    const prober = await connect(app.port);
    prober.write(get('/ready'));
    await prober.waitFor(() => parseResponses(prober.data).length === 1, 'ready while serving');
    expect(parseResponses(prober.data)[0]).toMatchObject({ status: 200, body: JSON.stringify({ ready: true, state: 'serving' }) });

    const busy = await connect(app.port);
    const started = app.slowStarted();
    busy.write(get('/slow'));
    await started;

    const drainBegins = new Promise<void>((resolve) => app.drainer.on('drain:start', (event) => event.kind === 'shutdown' && resolve()));
    const shutdown = app.drainer.shutdown();
    prober.write(get('/ready'));
    await prober.waitFor(() => parseResponses(prober.data).length === 2, 'ready during shutdown');
    const notReady = parseResponses(prober.data)[1]!;
    expect(notReady.status).toBe(503);
    expect(notReady.headers['retry-after']).toBe('5');
    expect(notReady.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(notReady.body)).toEqual({ ready: false, state: 'shutting-down' });

    // Released once the shutdown drain has begun (after the delay): the in-flight request still finishes.
    await drainBegins;
    app.release();
    await busy.waitForEnd();
    expect(parseResponses(busy.data)).toMatchObject([{ status: 200, body: 'slow done', headers: { connection: 'close' } }]);
    expect(await shutdown).toMatchObject({ forced: 0 });
    expect(busy.error).toBeUndefined();
  });

  it("a drained connection's queued pipelined requests never reach the application", async () => {
    const app = await start();
    const client = await connect(app.port);
    const started = app.slowStarted();
    client.write(get('/slow') + get('/fast') + get('/info'));
    await started;
    const result = app.drainer.drainConnection(idOf(app, client));
    app.release();
    expect(await result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 2 });
    await client.closed;
    expect(parseResponses(client.data).map((r) => r.body)).toEqual(['slow done']);
    expect(app.seen).toEqual(['/slow']);
  });

  it('req.drain.signal aborts when the connection starts draining, so an SSE stream ends cleanly', async () => {
    const app = await start();
    const client = await connect(app.port);
    client.write(get('/events'));
    await client.waitFor((data) => data.includes('data: hello'), 'first event');
    const result = await app.drainer.drainConnection(idOf(app, client), { timeoutMs: 2_000 });
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
    await client.closed;
    expect(client.data).toContain('event: bye\ndata: ERR_DRAIN_CONNECTION_DRAINING\n\n');
    expect(client.error).toBeUndefined();
  });
});
