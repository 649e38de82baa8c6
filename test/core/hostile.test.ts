import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { Socket } from 'node:net';
import { createDrainer } from '@drainkit/core';
import { describe, expect, it } from 'vitest';
import { RawClient, deferred, get, listen, until } from '../helpers/net.js';
import { testCertificate } from '../helpers/tls.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { requestInFlight } from '../helpers/fixtures.js';

// Issue 12 at test scale: a hostile client costs what it costs bare node:http,
// and the reports tell the truth. The figures at scale are in soak/hostile.mjs.

const env = cleanupAfterEach();
const { drainers, clients, track } = env;

describe('pipelined requests are bounded (item 1)', () => {
  it('a client pipelining thousands of GETs behind a slow request: the server stops reading, then serves them all once it is free', async () => {
    const gate = deferred();
    let socket: Socket | undefined;
    let handled = 0;
    const server = track(
      http.createServer((req, res) => {
        handled++;
        socket ??= req.socket;
        if (req.url === '/slow') void gate.promise.then(() => res.end('slow'));
        else res.end('ok');
      }),
    );
    drainers.push(createDrainer(server));
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    const count = 6_000;
    const payload = get('/slow') + get('/x').repeat(count);
    client.write(payload);
    // Whatever the kernel buffers, the server must not read (and parse) it all while /slow is in flight.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(handled).toBe(1);
    expect(socket!.bytesRead).toBeLessThan(payload.length / 2);
    gate.resolve();
    await client.waitFor(() => client.responseCount === count + 1, 'every response');
    expect(handled).toBe(count + 1);
  });

  it('a draining connection stops reading at once: requests pipelined behind its last response are not parsed', async () => {
    const gate = deferred();
    let socket: Socket | undefined;
    const server = track(
      http.createServer((req, res) => {
        socket = req.socket;
        void gate.promise.then(() => res.end('slow'));
      }),
    );
    const drainer = createDrainer(server, { timeoutMs: 5_000 });
    drainers.push(drainer);
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    client.write(get('/slow'));
    await until(() => socket !== undefined);
    const drained = drainer.drain();
    const before = socket!.bytesRead;
    client.write(get('/x').repeat(4_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(socket!.bytesRead - before).toBeLessThan(64 * 1024);
    gate.resolve();
    const report = await drained;
    expect(report).toMatchObject({ total: 1, forced: 0 });
    expect(report.results[0]).toMatchObject({ completedRequests: 1 });
    await client.waitForEnd();
    expect(client.responseCount).toBe(1);
  });
});

describe('per-request drain signals (item 3)', () => {
  it('each request gets its own signal, released when its response finishes; a drain aborts only the ones in flight', async () => {
    const gate = deferred();
    let aborted = 0;
    const signals: AbortSignal[] = [];
    const server = track(
      http.createServer((req, res) => {
        const signal = drainer.signalFor(req);
        signals.push(signal);
        signal.addEventListener('abort', () => aborted++, { once: true });
        if (req.url === '/slow') void gate.promise.then(() => res.end('slow'));
        else res.end('ok');
      }),
    );
    const drainer = createDrainer(server);
    drainers.push(drainer);
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    for (let i = 1; i <= 50; i++) {
      client.write(get('/x'));
      await client.waitFor(() => client.responseCount === i);
    }
    expect(new Set(signals).size).toBe(50);
    client.write(get('/slow'));
    await until(() => signals.length === 51);
    const drained = drainer.drain();
    // Only the request in flight learns of the drain; the 50 finished ones were released.
    expect(aborted).toBe(1);
    expect(signals[50]!.aborted).toBe(true);
    expect(signals.slice(0, 50).every((signal) => !signal.aborted)).toBe(true);
    gate.resolve();
    await drained;
  });

  it('signalFor(socket) keeps the connection-wide signal', async () => {
    let serverSocket: Socket | undefined;
    const server = track(
      http.createServer((req, res) => {
        serverSocket = req.socket;
        res.end('ok');
      }),
    );
    const drainer = createDrainer(server);
    drainers.push(drainer);
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    client.write(get('/x'));
    await client.waitFor(() => client.responseCount === 1);
    const signal = drainer.signalFor(serverSocket);
    expect(drainer.signalFor(serverSocket)).toBe(signal);
    await drainer.drain();
    expect(signal.aborted).toBe(true);
  });
});

describe('repeated drains of one connection (item 4)', () => {
  it('joining a drain in progress adds no timer; a shorter deadline lowers it', async () => {
    const { drainer, gate } = await requestInFlight(env);
    const [connection] = drainer.connections();
    const first = drainer.drainConnection(connection!.id, { timeoutMs: 60_000 });
    // Every timer core makes goes through the global setTimeout: count the ones the joins create.
    const realSetTimeout = globalThis.setTimeout;
    let created = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      created++;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    const joined: Array<Promise<unknown>> = [];
    try {
      for (let i = 0; i < 2_000; i++) joined.push(drainer.drainConnection(connection!.id, { timeoutMs: 50_000 }));
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    // The first join lowers the deadline (60 s to 50 s) and re-arms the one timer; never a timer (or an operation) per call.
    expect(created).toBeLessThanOrEqual(1);
    // A much shorter deadline: forced at about 100 ms, not at 60 s.
    const startedAt = Date.now();
    const result = await drainer.drainConnection(connection!.id, { timeoutMs: 100 });
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(result).toMatchObject({ forced: true });
    expect(await first).toBe(result);
    expect(await joined[0]).toBe(result);
    gate.resolve();
  });
});

describe('reports that tell the truth (items 9, 10)', () => {
  it('a response cut at the deadline (the client stops reading) is aborted, not completed (item 9)', async () => {
    const server = track(
      http.createServer((_req, res) => {
        res.end(Buffer.alloc(64 * 2 ** 20, 'x'));
      }),
    );
    const drainer = createDrainer(server);
    drainers.push(drainer);
    const port = await listen(server);
    const client = net.connect({ port, host: '127.0.0.1' });
    clients.push(client);
    await once(client, 'connect');
    client.on('error', () => undefined);
    client.write(get('/big'));
    // The client reads nothing: the response cannot finish.
    client.pause();
    await until(() => drainer.stats().inFlight === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const report = await drainer.drain(undefined, { timeoutMs: 200 });
    expect(report.forced).toBe(1);
    expect(report.results[0]).toMatchObject({ completedRequests: 0, abortedRequests: 1 });
  });

  /** A server with one raw-client request in its handler, started before any drainer exists; `gate` ends it. */
  async function requestInFlightBeforeDrainer() {
    const gate = deferred();
    const started = deferred();
    const server = track(
      http.createServer((_req, res) => {
        started.resolve();
        void gate.promise.then(() => res.end('slow'));
      }),
    );
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    client.write(get('/slow'));
    await started.promise;
    return { server, gate, client };
  }

  it('an HTTP/1.1 request in flight on a connection opened before createDrainer is adopted and reported (item 10)', async () => {
    const { server, gate } = await requestInFlightBeforeDrainer();
    const drainer = createDrainer(server, { timeoutMs: 300 });
    drainers.push(drainer);
    const report = await drainer.shutdown();
    expect(report.total).toBe(1);
    expect(report.forced).toBe(1);
    expect(report.results[0]).toMatchObject({ abortedRequests: 1 });
    await drainer.socketsClosed();
    gate.resolve();
  });

  it('a request in flight from before createDrainer that finishes in time gets Connection: close and counts as drained (item 10)', async () => {
    const { server, gate, client } = await requestInFlightBeforeDrainer();
    const drainer = createDrainer(server, { timeoutMs: 5_000 });
    drainers.push(drainer);
    const shutdown = drainer.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    gate.resolve();
    const report = await shutdown;
    expect(report).toMatchObject({ total: 1, forced: 0 });
    expect(report.results[0]).toMatchObject({ completedRequests: 1 });
    await client.waitForEnd();
    expect(client.data.toLowerCase()).toContain('connection: close');
  });

  /** An https server with a drainer, and a raw TCP client of it that never sends a ClientHello (counted by the drainer). */
  async function silentTlsClient(timeoutMs: number) {
    const { key, cert } = await testCertificate();
    const server = track(https.createServer({ key, cert }, (_req, res) => res.end('ok')));
    const drainer = createDrainer(server, { timeoutMs });
    drainers.push(drainer);
    const port = await listen(server);
    const silent = net.connect({ port, host: '127.0.0.1' });
    clients.push(silent);
    silent.on('error', () => undefined);
    await once(silent, 'connect');
    await until(() => drainer.stats().open === 1, 2_000, 'the raw TLS socket to be counted');
    return { drainer, silent };
  }

  it('a TLS client that never sends a ClientHello is counted and closed at the deadline; socketsClosed() resolves (item 10)', async () => {
    const { drainer, silent } = await silentTlsClient(300);
    const report = await drainer.shutdown();
    expect(report).toMatchObject({ total: 1, forced: 1 });
    await drainer.socketsClosed();
    await until(() => silent.destroyed || silent.readableEnded, 2_000, 'the silent client to be closed');
  });

  it('a later shutdown() with a shorter timeout ends the wait for a silent TLS client too', async () => {
    // The shutdown's drain waits for handshakes under way before it is sealed (tls-handshakes.ts).
    const { drainer } = await silentTlsClient(10_000);
    const startedAt = Date.now();
    const first = drainer.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = drainer.shutdown({ timeoutMs: 200 });
    const [a, b] = await Promise.all([first, second]);
    expect(b).toBe(a);
    expect(a).toMatchObject({ total: 1, forced: 1 });
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it('an idle keep-alive connection opened before createDrainer is adopted and closed by shutdown; a drainer attached before listen() never walks Node\'s list', async () => {
    const listOf = (server: http.Server) => {
      const symbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections')!;
      const list = (server as unknown as Record<symbol, { all(): unknown[] }>)[symbol]!;
      const walks = { count: 0 };
      const all = list.all.bind(list);
      list.all = () => (walks.count++, all());
      return walks;
    };
    // Attached while listening with a connection open: the shutdown looks for what it never saw.
    const before = track(http.createServer((_req, res) => res.end('ok')));
    const c1 = await RawClient.connect(await listen(before));
    clients.push(c1);
    c1.write(get('/a'));
    await c1.waitFor((d) => d.includes('ok'));
    const late = createDrainer(before, { idleGraceMs: 0 });
    drainers.push(late);
    const lateWalks = listOf(before);
    expect(await late.shutdown({ timeoutMs: 2_000 })).toMatchObject({ total: 1, closed: 1, forced: 0 });
    await c1.waitForEnd();
    expect(lateWalks.count).toBeGreaterThan(0);
    // Attached before listen(): every connection came through 'connection'; nothing to look for.
    const early = track(http.createServer((_req, res) => res.end('ok')));
    const drainer = createDrainer(early, { idleGraceMs: 0 });
    drainers.push(drainer);
    const c2 = await RawClient.connect(await listen(early));
    clients.push(c2);
    c2.write(get('/a'));
    await c2.waitFor((d) => d.includes('ok'));
    const earlyWalks = listOf(early);
    expect(await drainer.shutdown({ timeoutMs: 2_000 })).toMatchObject({ total: 1, closed: 1, forced: 0 });
    await c2.waitForEnd();
    expect(earlyWalks.count).toBe(0);
  });

  it('an HTTP/2 session opened before createDrainer is adopted on its next stream and closed by shutdown (item 10)', async () => {
    const server = track(http2.createServer((_req, res) => res.end('ok')));
    const port = await listen(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    clients.push(session);
    session.on('error', () => undefined);
    const first = session.request({ ':path': '/' });
    first.resume();
    await once(first, 'end');
    const drainer = createDrainer(server, { timeoutMs: 1_000 });
    drainers.push(drainer);
    const second = session.request({ ':path': '/' });
    second.resume();
    await once(second, 'end');
    expect(drainer.connections().map((c) => c.protocol)).toEqual(['h2']);
    const report = await drainer.shutdown();
    expect(report.total).toBe(1);
    await drainer.socketsClosed();
    await until(() => session.closed || session.destroyed, 2_000, 'the client session to close');
  });

  it('a CONNECT tunnel is an upgraded connection: onUpgradedDrain winds it down (item 10)', async () => {
    const server = track(http.createServer());
    const tunnels: Socket[] = [];
    server.on('connect', (_req, socket: Socket) => {
      tunnels.push(socket);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      socket.on('data', (chunk) => socket.write(chunk));
    });
    const drainer = createDrainer(server, { timeoutMs: 2_000 });
    drainers.push(drainer);
    const hooked: string[] = [];
    drainer.onUpgradedDrain((socket, connection) => {
      hooked.push(connection.protocol);
      socket.end();
    });
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    client.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    await client.waitFor((data) => data.includes('200 Connection Established'));
    expect(drainer.connections().map((c) => c.protocol)).toEqual(['upgraded']);
    const report = await drainer.drain();
    expect(hooked).toEqual(['upgraded']);
    expect(report).toMatchObject({ total: 1, forced: 0 });
  });
});
