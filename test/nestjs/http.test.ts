import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { DrainReport } from '@drainkit/core';
import { connectClient } from '../helpers/kind-client.js';
import type { KindClient } from '../helpers/kind-client.js';
import { get, RawClient, request } from '../helpers/net.js';
import type { ServerKind } from '../helpers/server-kinds.js';
import { platforms, startNestApp } from './nest-app.js';
import type { NestTestApp, Platform, StartOptions } from './nest-app.js';

const h1 = { name: 'nest', protocol: 'http/1.1', secure: false } as ServerKind;

describe.each(platforms)('DrainModule over real HTTP on %s', (platform: Platform) => {
  let target: NestTestApp | undefined;
  const sockets: Array<{ destroy(): void }> = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    if (target) {
      target.gate.release();
      await target.app.close();
      target = undefined;
    }
  });

  async function start(options?: StartOptions): Promise<NestTestApp> {
    target = await startNestApp(platform, options);
    return target;
  }

  async function client(app: NestTestApp): Promise<KindClient> {
    const c = await connectClient(h1, app.port);
    sockets.push(c);
    return c;
  }

  it('attaches the drainer to the server Nest created, and @Conn() gives the connection', async () => {
    const app = await start();
    expect(app.drain.attached).toBe(true);
    expect(app.drain.drainer.server).toBe(app.server);
    const c = await client(app);
    const res = await c.request('/conn');
    const body = JSON.parse(res.body) as { id: string; open: number };
    expect(app.drain.get(body.id)?.remotePort).toBe(c.localPort);
    expect(body.open).toBe(1);
  });

  it('app.close() waits for a slow request in flight, which finishes', async () => {
    const app = await start();
    const busy = await client(app);
    const idle = await client(app);
    await idle.request('/fast');
    const started = app.gate.slowStarted();
    const response = busy.request('/slow');
    await started;

    let closed = false;
    const shuttingDown = new Promise<void>((resolve) => app.drain.once('shutdown:phase', () => resolve()));
    const closing = app.app.close().then(() => (closed = true));
    target = undefined;
    await shuttingDown;
    expect(app.drain.isReady()).toBe(false);
    // The idle connection closes at once; the busy one waits for its response.
    expect((await idle.closed()).clean).toBe(true);
    expect(closed).toBe(false);
    expect(app.drain.stats()).toMatchObject({ inFlight: 1, state: 'shutting-down' });

    app.gate.release();
    expect(await response).toMatchObject({ status: 200, body: 'slow done', connectionClose: true });
    await closing;
    expect((await busy.closed()).clean).toBe(true);
    expect(app.drain.stats()).toMatchObject({ open: 0, forcedClosed: 0, state: 'closed' });
    expect(app.server.listening).toBe(false);
  });

  it('coexists with forceCloseConnections: the in-flight request still finishes', async () => {
    const app = await start({ forceCloseConnections: true });
    const busy = await client(app);
    const started = app.gate.slowStarted();
    const response = busy.request('/slow');
    await started;
    const closing = app.app.close();
    target = undefined;
    await new Promise<void>((resolve) => app.drain.once('shutdown:phase', () => resolve()));
    app.gate.release();
    expect(await response).toMatchObject({ status: 200, body: 'slow done' });
    await closing;
    expect((await busy.closed()).clean).toBe(true);
  });

  it('@DrainAfterResponse() closes exactly that connection after its response', async () => {
    const app = await start();
    const leaving = await client(app);
    const staying = await client(app);
    await staying.request('/fast');
    await leaving.request('/fast');

    expect(await leaving.request('/bye')).toMatchObject({ status: 200, body: 'bye', connectionClose: true });
    expect((await leaving.closed()).clean).toBe(true);
    expect(await staying.request('/fast')).toMatchObject({ status: 200, body: 'fast', connectionClose: false });
    expect(app.drain.connections().map((c) => c.remotePort)).toEqual([staying.localPort]);
  });

  it('@DrainAfterResponse() on a controller applies to its routes', async () => {
    const app = await start();
    const leaving = await client(app);
    expect(await leaving.request('/fast')).toMatchObject({ connectionClose: false });
    expect(await leaving.request('/leaving')).toMatchObject({ status: 200, body: 'left', connectionClose: true });
    expect((await leaving.closed()).clean).toBe(true);
  });

  it('@DrainAfterResponse() makes a keep-alive agent open a new socket for the next request', async () => {
    const app = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    sockets.push(agent);
    const first = await request(agent, app.port, '/fast');
    const second = await request(agent, app.port, '/bye');
    expect(second).toMatchObject({ body: 'bye', socketReused: true });
    expect(second.headers.connection).toBe('close');
    const third = await request(agent, app.port, '/fast');
    expect(first.socketReused).toBe(false);
    expect(third).toMatchObject({ body: 'fast', socketReused: false });
    expect(app.drain.stats().drained).toBe(1);
  });

  it('@DrainSignal() ends an SSE stream cleanly on shutdown', async () => {
    const app = await start();
    const sse = await RawClient.connect(app.port);
    sockets.push(sse);
    sse.write(get('/events', 'Accept: text/event-stream\r\n'));
    await sse.waitFor((data) => data.includes('data: tick 1'), 'two ticks');

    const report = new Promise<DrainReport>((resolve) => app.drain.once('drain:end', resolve));
    const closing = app.app.close();
    target = undefined;
    await sse.waitFor((data) => /event: drain\nid: \d+\ndata: bye\n\n/.test(data), 'the goodbye event');
    await sse.waitForEnd();
    await closing;
    expect(sse.error).toBeUndefined();
    expect(sse.data).toMatch(/0\r\n\r\n$/); // the chunked body was terminated, not cut off
    expect(await report).toMatchObject({ kind: 'shutdown', total: 1, forced: 0 });
  });

  it('DrainService.drainConnection from a controller drains another connection by id', async () => {
    const app = await start();
    const victim = await client(app);
    const admin = await client(app);
    const { id } = JSON.parse((await victim.request('/conn')).body) as { id: string };

    const res = await admin.request(`/drain/${id}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ id, forced: false, reason: 'admin' });
    expect((await victim.closed()).clean).toBe(true);
    expect(await admin.request('/fast')).toMatchObject({ status: 200, connectionClose: false });

    const unknown = await admin.request('/drain/nope');
    expect(unknown.status).toBe(500); // ERR_DRAIN_UNKNOWN_CONNECTION, not a silent success; DrainErrorFilter makes it a 404 (error-filter.test.ts)
  });

  it('the readiness route answers 200 while serving and 503 once shutdown has started', async () => {
    const app = await start({ drain: { shutdownDelayMs: 500 } });
    const probe = await client(app);
    const ok = await probe.request('/ready');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ready: true, state: 'serving', connections: 1 });

    const readinessFailed = new Promise<void>((resolve) => app.drain.once('shutdown:phase', () => resolve()));
    const closing = app.app.close();
    target = undefined;
    await readinessFailed;
    // Still listening during shutdownDelayMs, so a load balancer sees the 503 and stops routing here.
    const late = await client(app);
    const refused = await late.request('/ready');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toEqual({ ready: false, state: 'shutting-down' });
    await closing;
  });
});
