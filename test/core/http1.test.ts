import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer, DrainError } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { closeServer, deferred, get, listen, RawClient, request, until } from '../helpers/net.js';
import { countTimers } from '../helpers/timers.js';

interface Fixture {
  server: http.Server;
  drainer: Drainer;
  port: number;
  calls: string[];
  /** Handlers for paths starting with /slow wait for this. */
  release: () => void;
  started: Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Parameters<typeof createDrainer>[1] = {}): Promise<Fixture> {
  const calls: string[] = [];
  const gate = deferred();
  const started = deferred();
  const server = http.createServer((req, res) => {
    calls.push(req.url ?? '');
    if (req.url?.startsWith('/slow')) {
      started.resolve();
      void gate.promise.then(() => res.end(`done ${req.url}`));
      return;
    }
    if (req.url === '/never') {
      started.resolve();
      return;
    }
    res.end(`ok ${req.url}`);
  });
  const drainer = createDrainer(server, options);
  const port = await listen(server);
  const fixture: Fixture = {
    server,
    drainer,
    port,
    calls,
    release: () => gate.resolve(),
    get started() {
      return started.promise;
    },
  };
  cleanups.push(async () => {
    gate.resolve();
    drainer.dispose();
    await closeServer(server);
  });
  return fixture;
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  cleanups.push(() => c.destroy());
  return c;
}

describe('HTTP/1.1 per-connection drain', () => {
  it('with idleGraceMs 0, closes an idle keep-alive connection at once with a clean FIN', async () => {
    const f = await setup({ idleGraceMs: 0 });
    const c = await client(f.port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections()[0]?.state === 'idle');
    const [conn] = f.drainer.connections();
    const before = c.data.length;
    const startedAt = Date.now();
    const result = await f.drainer.drainConnection(conn!.id);
    await c.closed;
    expect(c.ended).toBe(true);
    expect(c.error).toBeUndefined();
    expect(c.data.length).toBe(before);
    expect(c.endedAt - startedAt).toBeLessThan(50);
    expect(result).toMatchObject({ id: conn!.id, forced: false, completedRequests: 0, droppedRequests: 0 });
    expect(f.drainer.get(conn!.id)).toBeUndefined();
  });

  it('counts a new connection that has sent nothing as idle', async () => {
    const f = await setup();
    const c = await client(f.port);
    await until(() => f.drainer.connections().length === 1);
    const [conn] = f.drainer.connections();
    expect(conn!.state).toBe('idle');
    const result = await f.drainer.drainConnection(conn!.id);
    await c.closed;
    expect(c.ended).toBe(true);
    expect(c.data).toBe('');
    expect(result.forced).toBe(false);
  });

  it('lets an in-flight request finish with Connection: close, then closes cleanly', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/slow'));
    await f.started;
    const [conn] = f.drainer.connections();
    expect(conn!.inFlight).toBe(1);
    expect(conn!.state).toBe('active');
    const draining = f.drainer.drainConnection(conn!.id);
    expect(conn!.state).toBe('draining');
    f.release();
    const result = await draining;
    await c.closed;
    expect(c.data).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(c.data.toLowerCase()).toContain('connection: close');
    expect(c.data).toContain('done /slow');
    expect(c.ended).toBe(true);
    expect(c.error).toBeUndefined();
    expect(result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 0 });
  });

  it('serves one request at a time per connection and never dispatches queued pipelined requests on drain', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/slow1') + get('/b') + get('/c'));
    await f.started;
    await until(() => f.drainer.connections()[0]!.inFlight === 1);
    // Node would have started /b and /c already; drainkit holds them back.
    expect(f.calls).toEqual(['/slow1']);
    const [conn] = f.drainer.connections();
    const draining = f.drainer.drainConnection(conn!.id);
    f.release();
    const result = await draining;
    await c.closed;
    expect(f.calls).toEqual(['/slow1']);
    expect(c.responseCount).toBe(1);
    expect(c.data).toContain('done /slow1');
    expect(c.ended).toBe(true);
    expect(c.error).toBeUndefined();
    expect(result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 2 });
  });

  it('still serves pipelined requests in order when nothing drains', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/slow1') + get('/b') + get('/c'));
    await f.started;
    f.release();
    await c.waitFor(() => c.responseCount === 3);
    expect(f.calls).toEqual(['/slow1', '/b', '/c']);
    expect(c.data.indexOf('done /slow1')).toBeLessThan(c.data.indexOf('ok /b'));
    expect(c.data.indexOf('ok /b')).toBeLessThan(c.data.indexOf('ok /c'));
  });

  it('serves a request whose head was partly received when the drain began', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write('GET /partial HTTP/1.1\r\nHost: local');
    await until(() => (f.drainer.connections()[0] as unknown as { socket: { bytesRead: number } }).socket.bytesRead > 0);
    const [conn] = f.drainer.connections();
    const draining = f.drainer.drainConnection(conn!.id, { timeoutMs: 2_000 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.ended).toBe(false);
    c.write('host\r\n\r\n');
    const result = await draining;
    await c.closed;
    expect(c.data).toContain('ok /partial');
    expect(c.data.toLowerCase()).toContain('connection: close');
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
  });

  it('force-closes a connection that never completes its head (slowloris) at the deadline', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write('GET /slowloris HTTP/1.1\r\nHo');
    await until(() => (f.drainer.connections()[0] as unknown as { socket: { bytesRead: number } }).socket.bytesRead > 0);
    const [conn] = f.drainer.connections();
    const result = await f.drainer.drainConnection(conn!.id, { timeoutMs: 100 });
    await c.closed;
    expect(result.forced).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(95);
    expect(f.calls).toEqual([]);
  });

  it('force-closes a handler that never responds after timeoutMs and resolves forced: true', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/never'));
    await f.started;
    const [conn] = f.drainer.connections();
    const closes: boolean[] = [];
    f.drainer.on('connection:close', (event) => closes.push(event.forced));
    const result = await f.drainer.drainConnection(conn!.id, { timeoutMs: 80 });
    await c.closed;
    expect(result).toMatchObject({ forced: true, abortedRequests: 1, completedRequests: 0 });
    expect(result.durationMs).toBeGreaterThanOrEqual(75);
    expect(closes).toEqual([true]);
    expect(f.drainer.stats()).toMatchObject({ forcedClosed: 1, open: 0 });
  });

  it('idleGraceMs keeps a just-used idle connection open and serves a request arriving meanwhile with Connection: close', async () => {
    const f = await setup({ idleGraceMs: 300 });
    const c = await client(f.port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections()[0]?.state === 'idle');
    const [conn] = f.drainer.connections();
    const draining = f.drainer.drainConnection(conn!.id);
    // The pooled client reuses the connection at that instant.
    c.write(get('/reuse'));
    const result = await draining;
    await c.closed;
    expect(c.error).toBeUndefined();
    expect(c.data).toContain('ok /reuse');
    expect(c.data.split('\r\n\r\n')[1]).toBeDefined();
    expect(c.data.slice(c.data.indexOf('ok /a')).toLowerCase()).toContain('connection: close');
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
  });

  it('idleGraceMs closes the connection once the grace has passed with no request', async () => {
    const f = await setup({ idleGraceMs: 150 });
    const c = await client(f.port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections()[0]?.state === 'idle');
    const [conn] = f.drainer.connections();
    const lastActive = conn!.lastActiveAt;
    const result = await f.drainer.drainConnection(conn!.id);
    await c.closed;
    expect(c.endedAt - lastActive).toBeGreaterThanOrEqual(140);
    expect(result.forced).toBe(false);
  });

  it('touches only the chosen connection; others keep serving and new ones are accepted', async () => {
    const f = await setup();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    await request(agent, f.port, '/warm');
    const c = await client(f.port);
    await until(() => f.drainer.connections().length === 2);
    const target = f.drainer.connectionOf(c.socket) ?? f.drainer.connections().find((x) => x.remotePort === c.socket.localPort);
    await f.drainer.drainConnection(target!.id);
    await c.closed;
    const again = await request(agent, f.port, '/again');
    expect(again.body).toBe('ok /again');
    expect(again.socketReused).toBe(true);
    const fresh = await client(f.port);
    fresh.write(get('/fresh'));
    await fresh.waitFor((d) => d.includes('ok /fresh'));
    expect(f.drainer.connections()).toHaveLength(2);
  });

  it('drain(filter, { concurrency }) never drains more than concurrency at once and reports each', async () => {
    const f = await setup();
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => client(f.port)));
    await until(() => f.drainer.connections().length === 5);
    const keep = clients[0]!;
    const keepId = f.drainer.connections().find((x) => x.remotePort === keep.socket.localPort)!.id;
    let draining = 0;
    let maxDraining = 0;
    const progress: number[] = [];
    f.drainer.on('drain:progress', (event) => progress.push(event.remaining));
    const timer = setInterval(() => {
      draining = f.drainer.stats().draining;
      maxDraining = Math.max(maxDraining, draining);
    }, 1);
    const startEvents: number[] = [];
    f.drainer.on('drain:start', (event) => startEvents.push(event.total));
    const report = await f.drainer.drain((x) => x.id !== keepId, { concurrency: 2 });
    clearInterval(timer);
    expect(report).toMatchObject({ kind: 'batch', total: 4, closed: 4, forced: 0 });
    expect(report.results.map((r) => r.id).sort()).toEqual(f.drainer.connections().length === 1 ? report.results.map((r) => r.id).sort() : []);
    expect(maxDraining).toBeLessThanOrEqual(2);
    expect(progress).toEqual([3, 2, 1, 0]);
    expect(startEvents).toEqual([4]);
    expect(f.drainer.connections().map((x) => x.id)).toEqual([keepId]);
  });

  it('shutdown(): stops accepting, closes idle at once, finishes in-flight with Connection: close, then resolves', async () => {
    const f = await setup();
    const idle = await client(f.port);
    const busy = await client(f.port);
    busy.write(get('/slow'));
    await f.started;
    await until(() => f.drainer.connections().length === 2);
    const shutdown = f.drainer.shutdown({ timeoutMs: 5_000 });
    expect(f.drainer.shutdown()).toBe(shutdown);
    expect(f.drainer.state).toBe('shutting-down');
    await idle.closed;
    expect(busy.ended).toBe(false);
    await until(() => !f.server.listening);
    f.release();
    const report = await shutdown;
    await busy.closed;
    expect(busy.data.toLowerCase()).toContain('connection: close');
    expect(busy.data).toContain('done /slow');
    expect(report).toMatchObject({ kind: 'shutdown', total: 2, closed: 2, forced: 0 });
    expect(f.drainer.state).toBe('closed');
    expect(f.drainer.stats()).toMatchObject({ open: 0, accepted: 2, closed: 2 });
  });

  it('uses one timer per drain operation, never one per connection', async () => {
    const f = await setup({ idleGraceMs: 5_000 });
    const busy = await Promise.all(Array.from({ length: 10 }, () => client(f.port)));
    for (const c of busy) c.write(get('/slow'));
    const idle = await Promise.all(Array.from({ length: 10 }, () => client(f.port)));
    await until(() => f.drainer.stats().inFlight === 10 && f.drainer.stats().open === 20);
    // Track the timers drainkit keeps alive (unref'd timers are invisible to getActiveResourcesInfo).
    const timers = countTimers();
    const live = timers.live;
    try {
      // Busy connections wait for their handlers; idle ones wait out idleGraceMs: all on one timer.
      const draining = f.drainer.drain(undefined, { timeoutMs: 10_000 });
      expect(f.drainer.stats().draining).toBe(20);
      expect(live.size).toBe(1);
      f.release();
      await Promise.all(busy.map((c) => c.closed));
      await until(() => f.drainer.stats().lingering === 0);
      expect(idle.every((c) => !c.ended)).toBe(true);
      // The ten busy ones lingered for their clients' FINs on one shared timer, gone with the last of them.
      expect(live.size).toBe(1);
      // A second operation joins the same connections with a shorter deadline: one more timer, not ten.
      const second = f.drainer.drain(undefined, { timeoutMs: 50 });
      expect(live.size).toBe(2);
      expect((await second).forced).toBe(0);
      expect((await draining).total).toBe(20);
      await Promise.all(idle.map((c) => c.closed));
      await until(() => f.drainer.stats().lingering === 0);
      // At most: two operations and the linger timer.
      expect(timers.peak).toBeLessThanOrEqual(3);
      expect(live.size).toBe(0);
    } finally {
      timers.restore();
    }
  });

  it('draining the same connection twice returns the same result', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/slow'));
    await f.started;
    const [conn] = f.drainer.connections();
    const first = f.drainer.drainConnection(conn!.id);
    const second = f.drainer.drainConnection(conn!.id);
    f.release();
    const [a, b] = await Promise.all([first, second]);
    expect(b).toBe(a);
    expect(await f.drainer.drainConnection(conn!.id)).toBe(a);
  });

  it('keeps stats() and connections() consistent and leaks nothing over 10,000 open/close cycles', async () => {
    const f = await setup();
    const agent = new http.Agent({ keepAlive: false });
    cleanups.push(() => agent.destroy());
    // A tenth of the cycles serve a request; the rest connect and hang up (client aborts, probes).
    for (let round = 0; round < 50; round++) {
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          if (i % 10 === 0) return request(agent, f.port, `/r${i}`);
          const c = await RawClient.connect(f.port);
          c.destroy();
          await c.closed;
        }),
      );
      const stats = f.drainer.stats();
      expect(stats.open).toBe(f.drainer.connections().length);
      expect(stats.accepted - stats.closed).toBe(stats.open);
    }
    await until(() => f.drainer.stats().open === 0);
    const stats = f.drainer.stats();
    expect(stats).toMatchObject({ accepted: 10_000, closed: 10_000, open: 0, inFlight: 0, forcedClosed: 0 });
    expect(f.drainer.connections()).toEqual([]);
    expect((f.drainer as unknown as { registry: Map<unknown, unknown> }).registry.size).toBe(0);
  });
});

describe('lingering close (RFC 9112 §9.6)', () => {
  /** A client that keeps its side open after the server's FIN, and the server's socket for it. */
  async function halfOpenClient(f: Fixture): Promise<{ c: RawClient; serverSocket: () => net.Socket }> {
    let serverSocket: net.Socket | undefined;
    f.server.once('connection', (socket: net.Socket) => (serverSocket = socket));
    const c = await RawClient.connect(f.port, { allowHalfOpen: true });
    cleanups.push(() => c.destroy());
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    return { c, serverSocket: () => serverSocket! };
  }

  it('a drain is over once the FIN is sent; the socket then reads and discards until the client closes, with no reset', async () => {
    const f = await setup({ lingerMs: 10_000 });
    const { c, serverSocket } = await halfOpenClient(f);
    const [conn] = f.drainer.connections();
    const result = await f.drainer.drainConnection(conn!.id);
    expect(result).toMatchObject({ forced: false, completedRequests: 0 });
    // Gone from the registry at once, though the client has not closed its side.
    expect(f.drainer.get(conn!.id)).toBeUndefined();
    expect(f.drainer.stats()).toMatchObject({ open: 0, closed: 1, lingering: 1 });
    await c.waitForEnd();
    expect(serverSocket().destroyed).toBe(false);
    // A request that raced the FIN is read and never dispatched.
    const readBefore = serverSocket().bytesRead;
    c.write(get('/raced'));
    await until(() => serverSocket().bytesRead > readBefore);
    expect(f.calls).toEqual(['/a']);
    // The client's FIN ends the linger.
    c.socket.end();
    await c.closed;
    await until(() => f.drainer.stats().lingering === 0);
    expect(serverSocket().destroyed).toBe(true);
    expect(c.error).toBeUndefined();
    expect(c.data).not.toContain('/raced');
  });

  it('a client that never closes its side is let go after lingerMs, without a reset', async () => {
    const f = await setup({ lingerMs: 150 });
    const { c, serverSocket } = await halfOpenClient(f);
    const startedAt = Date.now();
    await f.drainer.drainConnection(f.drainer.connections()[0]!.id);
    await c.waitForEnd();
    await once(serverSocket(), 'close');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(f.drainer.stats().lingering).toBe(0);
    expect(c.error).toBeUndefined();
  });

  it('shutdown() resolves once every FIN is sent; socketsClosed() and the sockets-closed phase wait for the lingering sockets', async () => {
    const f = await setup({ lingerMs: 10_000 });
    const { c } = await halfOpenClient(f);
    const phases: string[] = [];
    f.drainer.on('shutdown:phase', ({ phase }) => phases.push(phase));
    let allClosed = false;
    void f.drainer.socketsClosed().then(() => (allClosed = true));
    const report = await f.drainer.shutdown({ timeoutMs: 5_000 });
    expect(report).toMatchObject({ total: 1, closed: 1, forced: 0 });
    expect(f.drainer.stats()).toMatchObject({ open: 0, lingering: 1, state: 'closed' });
    await c.waitForEnd();
    expect(allClosed).toBe(false);
    expect(phases).toEqual(['readiness-failed', 'listener-closed', 'drained', 'cleanup-done']);
    c.socket.end();
    await f.drainer.socketsClosed();
    expect(phases).toEqual(['readiness-failed', 'listener-closed', 'drained', 'cleanup-done', 'sockets-closed']);
    expect(f.server.listening).toBe(false);
    expect(c.error).toBeUndefined();
  });
  it('a connection silent for its idle grace and 1 s more is closed at once, as Node core closes it: no lingering, the same clean FIN', async () => {
    const f = await setup({ idleGraceMs: 100, lingerMs: 10_000 });
    const { c, serverSocket } = await halfOpenClient(f);
    const recent = await halfOpenClient(f);
    await new Promise((resolve) => setTimeout(resolve, 1_150));
    // Used just now: it keeps the lingering close.
    recent.c.write(get('/b'));
    await recent.c.waitFor((d) => d.includes('ok /b'));
    const report = await f.drainer.drain(() => true, { timeoutMs: 5_000 });
    expect(report).toMatchObject({ total: 2, closed: 2, forced: 0 });
    // The long-idle one is closed outright (close(2): nothing waits for its client's FIN); the other lingers.
    expect(serverSocket().destroyed).toBe(true);
    expect(recent.serverSocket().destroyed).toBe(false);
    expect(f.drainer.stats()).toMatchObject({ open: 0, lingering: 1 });
    await c.waitForEnd();
    await recent.c.waitForEnd();
    expect(c.error).toBeUndefined();
    expect(recent.c.error).toBeUndefined();
    expect(f.calls).toEqual(['/a', '/a', '/b']);
  });
  // More on long-idle connections (close(2), put off to the turn's end): long-idle.test.ts.
});

describe('connections that arrive after the listener closed', () => {
  it('a connection handed to the server after the shutdown drain finished (as the cluster primary does) is drained too', async () => {
    const f = await setup();
    await f.drainer.shutdown({ timeoutMs: 2_000 });
    // A connection accepted elsewhere and injected with emit('connection'), as node:cluster hands them to workers.
    const side = net.createServer();
    const port = await listen(side);
    cleanups.push(() => closeServer(side));
    const accepted = once(side, 'connection') as Promise<[net.Socket]>;
    const c = await RawClient.connect(port);
    cleanups.push(() => c.destroy());
    const [socket] = await accepted;
    side.close();
    f.server.emit('connection', socket);
    const socketsClosed = f.drainer.socketsClosed();
    // Idle since it opened: closed at once, never served keep-alive by a server that is going away.
    await c.waitForEnd();
    await c.closed;
    await socketsClosed;
    expect(f.drainer.stats()).toMatchObject({ accepted: 1, closed: 1, drained: 1, open: 0, lingering: 0 });
    expect(c.error).toBeUndefined();
  });
});

describe('bad input', () => {
  it('rejects unknown ids, bad options and bad servers with typed errors', async () => {
    const f = await setup();
    await expect(f.drainer.drainConnection('nope')).rejects.toMatchObject({ code: 'ERR_DRAIN_UNKNOWN_CONNECTION' });
    await expect(f.drainer.drainConnection('nope', { timeoutMs: -1 })).rejects.toMatchObject({
      code: 'ERR_DRAIN_INVALID_OPTION',
      message: expect.stringContaining('timeoutMs'),
    });
    await expect(f.drainer.drain(undefined, { concurrency: 0 })).rejects.toMatchObject({ code: 'ERR_DRAIN_INVALID_OPTION' });
    await expect(f.drainer.drain(undefined, { timeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'ERR_DRAIN_INVALID_OPTION' });
    await expect(f.drainer.drain(undefined, { timeoutMs: '5' as never })).rejects.toBeInstanceOf(DrainError);
    expect(() => createDrainer(f.server)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_ALREADY_ATTACHED' }));
    expect(() => createDrainer({} as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_NOT_A_SERVER' }));
    expect(() => createDrainer(http.createServer(), { idleGraceMs: -5 })).toThrow(
      expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION', message: expect.stringContaining('-5') }),
    );
    expect(() => createDrainer(http.createServer(), { timeoutMs: 1, bogus: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
  });
});
