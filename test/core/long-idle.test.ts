import http from 'node:http';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { get, listen, RawClient } from '../helpers/net.js';

// A plain-TCP connection silent for its idle grace and 1 s more is closed with
// close(2) (packages/core/src/http1-drain.ts deferStart): its drain is put off to
// the loop turn's check phase, then every such connection still silent is closed
// before any of them is accounted for.

const env = cleanupAfterEach();
const LONG_IDLE_WAIT_MS = 1_100; // idleGraceMs 0 + LONG_IDLE_MS (1 s) + margin

interface Fixture {
  server: http.Server;
  drainer: Drainer;
  port: number;
  calls: string[];
  sockets: net.Socket[];
}

async function setup(options: DrainerOptions = {}): Promise<Fixture> {
  const calls: string[] = [];
  const sockets: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    calls.push(req.url ?? '');
    res.end(`ok ${req.url}`);
  });
  server.on('connection', (socket: net.Socket) => sockets.push(socket));
  const drainer = createDrainer(server, { idleGraceMs: 0, lingerMs: 10_000, ...options });
  env.track(server, drainer);
  const port = await listen(server);
  return { server, drainer, port, calls, sockets };
}

/** A keep-alive client that has been served one request and keeps its side open after our FIN. */
async function servedClient(f: Fixture, path = '/a'): Promise<RawClient> {
  const c = await RawClient.connect(f.port, { allowHalfOpen: true });
  env.clients.push(c);
  c.write(get(path));
  await c.waitFor((d) => d.includes(`ok ${path}`));
  return c;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('long-idle HTTP/1.1 connections', () => {
  it('a shutdown closes every long-idle connection before it accounts for any: all FINs are out at the first drain:progress', async () => {
    const f = await setup({ idleGraceMs: 100 });
    const idle = await Promise.all([1, 2, 3, 4, 5].map(() => servedClient(f)));
    await sleep(LONG_IDLE_WAIT_MS + 100);
    // Used just now: within its grace, it keeps the lingering close.
    const recent = await servedClient(f, '/b');
    const idleSockets = f.sockets.slice(0, 5);
    let destroyedAtFirstProgress = -1;
    f.drainer.once('drain:progress', () => (destroyedAtFirstProgress = idleSockets.filter((s) => s.destroyed).length));
    const report = await f.drainer.shutdown({ timeoutMs: 5_000 });
    expect(destroyedAtFirstProgress).toBe(5);
    expect(report).toMatchObject({ total: 6, closed: 6, forced: 0 });
    for (const result of report.results) expect(result).toMatchObject({ forced: false, droppedRequests: 0, abortedRequests: 0 });
    // close(2) for the long-idle ones: nothing lingers for their clients' FINs; the recent one lingers.
    expect(f.sockets[5]!.destroyed).toBe(false);
    expect(f.drainer.stats()).toMatchObject({ open: 0, closed: 6, lingering: 1 });
    for (const c of [...idle, recent]) await c.waitForEnd();
    for (const c of [...idle, recent]) expect(c.error).toBeUndefined();
  });

  it('a shutdown closes the long-idle connections in the loop turn its listener closes in, not a turn later', async () => {
    // The listener's close waits for a poll phase (listener-close.ts), which already read what
    // the clients had written: the drain closes them in its first pass (Http1Strategy.deferAll).
    const f = await setup({ idleGraceMs: 100 });
    const idle = await Promise.all([1, 2, 3].map(() => servedClient(f)));
    await sleep(LONG_IDLE_WAIT_MS + 100);
    let destroyedNextTurn: Promise<number> | undefined;
    f.drainer.on('shutdown:phase', ({ phase }) => {
      if (phase === 'listener-closed') destroyedNextTurn = new Promise((resolve) => setImmediate(() => resolve(f.sockets.filter((s) => s.destroyed).length)));
    });
    const report = await f.drainer.shutdown({ timeoutMs: 5_000 });
    expect(await destroyedNextTurn).toBe(3);
    expect(report).toMatchObject({ total: 3, closed: 3, forced: 0 });
    for (const c of idle) await c.waitForEnd();
    for (const c of idle) expect(c.error).toBeUndefined();
  });

  it('a request already written when shutdown() is called on a long-idle connection is served, not reset', async () => {
    const f = await setup();
    const c = await servedClient(f);
    await sleep(LONG_IDLE_WAIT_MS);
    // In the server's receive buffer, not read yet, when the shutdown starts: the poll
    // phase the listener's close waits for reads it (served before the drain begins).
    c.write(get('/late'));
    const report = await f.drainer.shutdown({ timeoutMs: 5_000 });
    expect(report).toMatchObject({ total: 1, closed: 1, forced: 0 });
    expect(report.results[0]).toMatchObject({ droppedRequests: 0, abortedRequests: 0 });
    await c.waitForEnd();
    expect(c.data).toContain('ok /late');
    expect(f.calls).toEqual(['/a', '/late']);
    expect(c.error).toBeUndefined();
  });

  it.each([
    ['nobody listens', false],
    ['connection:drained, connection:close and drain:progress listeners', true],
  ])('long-idle connections closed at once are recorded in one go, whoever listens (%s)', async (_name, listening) => {
    // closing.ts closedBeforeTask: without listeners the registry drops them in one go,
    // with them each connection is announced in turn; both leave the same report and stats.
    const f = await setup();
    const clients = await Promise.all([1, 2, 3, 4].map(() => servedClient(f)));
    await sleep(LONG_IDLE_WAIT_MS);
    const ids = f.drainer.connections().map((c) => c.id);
    const drained: string[] = [];
    const closed: string[] = [];
    const remaining: number[] = [];
    let openWhenAnnounced: number[] = [];
    if (listening) {
      f.drainer.on('connection:drained', (result) => {
        drained.push(result.id);
        openWhenAnnounced.push(f.drainer.stats().open);
      });
      f.drainer.on('connection:close', ({ connection }) => closed.push(connection.id));
      f.drainer.on('drain:progress', ({ remaining: left }) => remaining.push(left));
    }
    // A batch drain (put off to the check phase, closeDeferred), then the drainer's
    // memory of the results: drainConnection() of a closed one returns its result.
    const report = await f.drainer.drain(() => true, { timeoutMs: 5_000, reason: 'batch' });
    expect(report).toMatchObject({ total: 4, closed: 4, forced: 0 });
    expect(report.results.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const result of report.results) expect(result).toMatchObject({ forced: false, completedRequests: 0, reason: 'batch', protocol: 'http/1.1' });
    expect(f.drainer.stats()).toMatchObject({ open: 0, closed: 4, drained: 4, forcedClosed: 0, lingering: 0 });
    expect(await f.drainer.drainConnection(ids[2]!)).toEqual(report.results.find((r) => r.id === ids[2]));
    if (listening) {
      expect(drained.sort()).toEqual([...ids].sort());
      expect(closed.sort()).toEqual([...ids].sort());
      expect(remaining).toEqual([3, 2, 1, 0]);
      // Announced one by one: each listener saw the connections not yet recorded still open.
      expect(openWhenAnnounced).toEqual([3, 2, 1, 0]);
    } else {
      expect([drained, closed, remaining]).toEqual([[], [], []]);
    }
    openWhenAnnounced = [];
    for (const c of clients) await c.waitForEnd();
    for (const c of clients) expect(c.error).toBeUndefined();
  });

  it('a batch drain with concurrency 2 over five long-idle connections drains all five, two at a time', async () => {
    const f = await setup();
    await Promise.all([1, 2, 3, 4, 5].map(() => servedClient(f)));
    await sleep(LONG_IDLE_WAIT_MS);
    const remaining: number[] = [];
    let mostDraining = 0;
    f.drainer.on('drain:progress', ({ remaining: left }) => {
      remaining.push(left);
      mostDraining = Math.max(mostDraining, f.drainer.stats().draining);
    });
    const report = await f.drainer.drain(() => true, { concurrency: 2, timeoutMs: 5_000 });
    expect(report).toMatchObject({ total: 5, closed: 5, forced: 0 });
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    expect(mostDraining).toBeLessThanOrEqual(2);
    expect(f.sockets.every((s) => s.destroyed)).toBe(true);
  });

  it('is shown draining as soon as drain() is called, and two drains of it in one tick share one result', async () => {
    const f = await setup();
    const c = await servedClient(f);
    await sleep(LONG_IDLE_WAIT_MS);
    const [conn] = f.drainer.connections();
    const first = f.drainer.drainConnection(conn!.id, { reason: 'first' });
    expect(f.drainer.stats().draining).toBe(1);
    const second = f.drainer.drainConnection(conn!.id, { reason: 'second' });
    const [a, b] = await Promise.all([first, second]);
    expect(a).toMatchObject({ id: conn!.id, forced: false });
    expect(b).toEqual(a);
    await c.waitForEnd();
    expect(c.error).toBeUndefined();
  });

  it('a request already written when the drain is called is served with Connection: close; one pipelined behind it never reaches the application', async () => {
    const f = await setup();
    const c = await servedClient(f);
    await sleep(LONG_IDLE_WAIT_MS);
    // Written before the drain, but not read by the server yet when the drain starts.
    c.write(get('/late') + get('/behind'));
    const [conn] = f.drainer.connections();
    const result = await f.drainer.drainConnection(conn!.id, { timeoutMs: 5_000 });
    expect(result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 1 });
    await c.waitForEnd();
    expect(c.data).toContain('ok /late');
    expect(c.data.toLowerCase()).toContain('connection: close');
    expect(c.data).not.toContain('ok /behind');
    expect(f.calls).toEqual(['/a', '/late']);
    expect(c.error).toBeUndefined();
  });

  it('dispose() before the put-off drain starts: the drain resolves, the connection is left open and still serves', async () => {
    const f = await setup();
    const c = await servedClient(f);
    await sleep(LONG_IDLE_WAIT_MS);
    const drained = f.drainer.drain(() => true, { timeoutMs: 5_000 });
    f.drainer.dispose();
    expect(await drained).toMatchObject({ total: 0, closed: 0, forced: 0 });
    expect(f.sockets[0]!.destroyed).toBe(false);
    c.write(get('/after'));
    await c.waitFor((d) => d.includes('ok /after'));
    expect(c.error).toBeUndefined();
  });
});
