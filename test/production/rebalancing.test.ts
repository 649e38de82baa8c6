import http from 'node:http';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer, DrainError } from '@drainkit/core';
import type { DrainerOptions, DrainResult, DrainStartEvent } from '@drainkit/core';
import { closeServer, deferred, get, listen, RawClient, until } from '../helpers/net.js';

// Connection age and request caps (gRPC MAX_CONNECTION_AGE, Envoy
// max_connection_duration / max_requests_per_connection): past either, a
// connection drains gracefully so keep-alive clients rebalance.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function h1(options: DrainerOptions) {
  let gate = deferred();
  const started: string[] = [];
  const server = http.createServer((req, res) => {
    started.push(req.url ?? '');
    if (req.url === '/slow') void gate.promise.then(() => res.end('slow done'));
    else res.end(`ok ${req.url}`);
  });
  const drainer = createDrainer(server, options);
  const port = await listen(server);
  cleanups.push(async () => {
    gate.resolve();
    drainer.dispose();
    await closeServer(server);
  });
  const client = async () => {
    const c = await RawClient.connect(port);
    cleanups.push(() => c.destroy());
    return c;
  };
  return {
    server,
    drainer,
    port,
    started,
    client,
    release: () => {
      gate.resolve();
      gate = deferred();
    },
  };
}

/** Splits raw HTTP/1.1 bytes into responses (all bodies here have Content-Length). */
function responses(data: string): Array<{ head: string; body: string }> {
  const out: Array<{ head: string; body: string }> = [];
  let rest = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    out.push({ head: head.toLowerCase(), body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

describe('maxRequestsPerConnection', () => {
  it('HTTP/1.1: the capped request gets Connection: close and the connection then closes cleanly', async () => {
    const f = await h1({ maxRequestsPerConnection: 3 });
    const drained: DrainResult[] = [];
    f.drainer.on('connection:drained', (result) => drained.push(result));
    const c = await f.client();
    for (const path of ['/1', '/2']) {
      c.write(get(path));
      await c.waitFor((d) => d.includes(`ok ${path}`));
    }
    expect(c.data.toLowerCase()).not.toContain('connection: close');
    expect(f.drainer.connections()).toHaveLength(1);
    c.write(get('/3'));
    await c.waitForEnd();
    await c.closed;
    const all = responses(c.data);
    expect(all.map((r) => r.body)).toEqual(['ok /1', 'ok /2', 'ok /3']);
    expect(all[0]!.head).toContain('connection: keep-alive');
    expect(all[2]!.head).toContain('connection: close');
    expect(c.error).toBeUndefined();
    await until(() => drained.length === 1);
    expect(drained[0]).toMatchObject({ forced: false, reason: 'max-requests', completedRequests: 1 });
  });

  it('HTTP/2: after the capped stream the session gets GOAWAY, and every stream completes', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('h2 ok');
    });
    const drainer = createDrainer(server, { maxRequestsPerConnection: 2 });
    const port = await listen(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(async () => {
      session.destroy();
      drainer.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const goaways: number[] = [];
    session.on('goaway', (code: number) => goaways.push(code));
    const fetch = () =>
      new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => resolve(body));
        req.on('error', reject);
      });
    expect(await fetch()).toBe('h2 ok');
    expect(goaways).toEqual([]);
    expect(await fetch()).toBe('h2 ok');
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(goaways.length).toBeGreaterThanOrEqual(1);
    expect(goaways.every((code) => code === http2.constants.NGHTTP2_NO_ERROR)).toBe(true);
    expect(drainer.stats()).toMatchObject({ open: 0, forcedClosed: 0, drained: 1 });
  });

  it('rejects a cap below 1 with a DrainError', () => {
    const server = http.createServer();
    expect(() => createDrainer(server, { maxRequestsPerConnection: 0 })).toThrow(DrainError);
    expect(() => createDrainer(server, { maxRequestsPerConnection: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
  });
});

describe('maxConnectionAgeMs', () => {
  it('drains an idle keep-alive connection once it is old enough (FIN, no reset, not forced)', async () => {
    // idleGraceMs 0: the subject is when retirement starts; with the default grace an idle
    // connection used less than idleGraceMs ago would wait that long too.
    const f = await h1({ maxConnectionAgeMs: 200, maxConnectionAgeJitter: 0, idleGraceMs: 0 });
    const c = await f.client();
    const openedAt = Date.now();
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await c.waitForEnd();
    const age = c.endedAt - openedAt;
    expect(age).toBeGreaterThanOrEqual(195);
    // The shared sweep runs every maxConnectionAgeMs / 10.
    expect(age).toBeLessThan(400);
    await c.closed;
    expect(c.error).toBeUndefined();
    await until(() => f.drainer.stats().open === 0);
    expect(f.drainer.stats()).toMatchObject({ drained: 1, forcedClosed: 0 });
  });

  it('lets a request in flight at that age finish, with Connection: close', async () => {
    const f = await h1({ maxConnectionAgeMs: 100, maxConnectionAgeJitter: 0 });
    const c = await f.client();
    c.write(get('/slow'));
    await until(() => f.started.length === 1);
    await until(() => f.drainer.connections()[0]?.state === 'draining', 2_000, 'age drain');
    f.release();
    await c.waitForEnd();
    await c.closed;
    const [only] = responses(c.data);
    expect(only?.body).toBe('slow done');
    expect(only?.head).toContain('connection: close');
    expect(c.error).toBeUndefined();
  });

  it('retires a connection on its first request past the age, without waiting for the sweep', async () => {
    // Age 5 s: the sweep runs every second, the request lands between two sweeps.
    const f = await h1({ maxConnectionAgeMs: 5_000, maxConnectionAgeJitter: 0 });
    const c = await f.client();
    await until(() => f.drainer.connections().length === 1);
    const conn = f.drainer.connections()[0] as unknown as { retireAt: number };
    // Make the connection old now rather than sleeping 5 s (retireAt is the one internal field this test touches).
    conn.retireAt = Date.now() - 1;
    c.write(get('/now'));
    await c.waitForEnd();
    const [only] = responses(c.data);
    expect(only?.body).toBe('ok /now');
    expect(only?.head).toContain('connection: close');
  });

  it('HTTP/2: an old session gets GOAWAY and closes without a reset', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('h2 ok');
    });
    const drainer = createDrainer(server, { maxConnectionAgeMs: 150, maxConnectionAgeJitter: 0 });
    const port = await listen(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(async () => {
      session.destroy();
      drainer.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const errors: Error[] = [];
    session.on('error', (error: Error) => errors.push(error));
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const openedAt = Date.now();
    await new Promise<void>((resolve) => session.once('connect', () => resolve()));
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(140);
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(errors).toEqual([]);
    expect(drainer.stats()).toMatchObject({ drained: 1, forcedClosed: 0 });
  });

  /** Opens `count` idle connections together; resolves with each one's age (ms) when the server ended it. */
  async function agesAtRetirement(options: DrainerOptions, count: number) {
    // idleGraceMs 0: these measure when retirement starts, not the idle grace after it.
    const f = await h1({ idleGraceMs: 0, ...options });
    const starts: DrainStartEvent[] = [];
    f.drainer.on('drain:start', (event) => starts.push(event));
    const clients = await Promise.all(Array.from({ length: count }, () => f.client()));
    await until(() => f.drainer.connections().length === count);
    const openedAt = new Map(f.drainer.connections().map((c) => [c.remotePort, c.openedAt]));
    // Read before the sockets close: a closed socket has no localPort.
    const opened = clients.map((c) => openedAt.get(c.socket.localPort)!);
    await Promise.all(clients.map((c) => c.waitForEnd()));
    const ages = clients.map((c, i) => c.endedAt - opened[i]!);
    return { ages, starts };
  }

  it('spreads retirements by a random jitter (default ±10%)', async () => {
    const { ages } = await agesAtRetirement({ maxConnectionAgeMs: 400 }, 30);
    // 360..440 ms, plus at most one sweep period (40 ms) and scheduling slack.
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(355);
    expect(Math.max(...ages)).toBeLessThan(440 + 40 + 60);
  });

  it('with a wide jitter, retirement times cover the range', async () => {
    const { ages } = await agesAtRetirement({ maxConnectionAgeMs: 400, maxConnectionAgeJitter: 0.5 }, 40);
    // Uniform over 200..600 ms: some retire well before 400 ms, some well after.
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(195);
    expect(Math.min(...ages)).toBeLessThan(330);
    expect(Math.max(...ages)).toBeGreaterThan(470);
  });

  it('without jitter all retire together, in one drain operation per sweep rather than one per connection', async () => {
    const { ages, starts } = await agesAtRetirement({ maxConnectionAgeMs: 300, maxConnectionAgeJitter: 0 }, 30);
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(295);
    expect(Math.max(...ages)).toBeLessThan(300 + 30 + 60);
    // Connections opened within a few ms of each other come due in at most a couple of sweeps.
    expect(starts.length).toBeLessThanOrEqual(3);
    expect(starts.reduce((sum, s) => sum + s.total, 0)).toBe(30);
    expect(starts.every((s) => s.reason === 'max-connection-age')).toBe(true);
  });

  it('stops retiring during shutdown (the shutdown drain owns every connection)', async () => {
    const f = await h1({ maxConnectionAgeMs: 100, maxConnectionAgeJitter: 0, timeoutMs: 2_000 });
    const reasons: Array<string | undefined> = [];
    f.drainer.on('connection:drained', (result) => reasons.push(result.reason));
    const c = await f.client();
    c.write(get('/slow'));
    await until(() => f.started.length === 1);
    const report = f.drainer.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 250));
    f.release();
    expect((await report).forced).toBe(0);
    expect(reasons).toEqual(['shutdown']);
    await c.closed;
  });

  it('rejects a bad age or jitter with a DrainError', () => {
    const server = http.createServer();
    expect(() => createDrainer(server, { maxConnectionAgeMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => createDrainer(server, { maxConnectionAgeMs: 1_000, maxConnectionAgeJitter: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }),
    );
  });
});
