import http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions, DrainResult } from '@drainkit/core';
import { connectH2, closeHttp2Sessions, h2Request } from '../helpers/h2.js';
import type { H2Client } from '../helpers/h2.js';
import { RawH2Client } from '../helpers/h2-raw.js';
import { closeServer, deferred, get, listen, RawClient, until } from '../helpers/net.js';
import { testCertificate } from '../helpers/tls.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
/** RFC 9113 §6.8: the first GOAWAY of a graceful shutdown names the largest stream id. */
const MAX_STREAM_ID = 2 ** 31 - 1;

interface Fixture {
  server: http2.Http2Server | http2.Http2SecureServer;
  drainer: Drainer;
  port: number;
  /** Paths that reached the handler, in order. */
  calls: string[];
  /** Handlers of paths starting with /slow wait for this. */
  release: () => void;
  /** Resolves once `n` handler calls happened. */
  reached(n: number): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP/2 server (compat API) whose /slow* handlers wait for release() and /never never answers. */
async function setup(options: DrainerOptions = {}, kind: 'h2c' | 'secure' | 'allowHTTP1' = 'h2c'): Promise<Fixture> {
  const calls: string[] = [];
  const gate = deferred();
  const waiters: Array<{ n: number; wake: () => void }> = [];
  const handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void => {
    calls.push(req.url);
    for (const w of waiters.filter((x) => calls.length >= x.n)) w.wake();
    if (req.url.startsWith('/slow')) {
      void gate.promise.then(() => res.end(`done ${req.url}`));
      return;
    }
    if (req.url === '/never') return;
    res.end(`ok ${req.url}`);
  };
  const server =
    kind === 'h2c'
      ? http2.createServer(handler)
      : http2.createSecureServer({ ...(await testCertificate()), allowHTTP1: kind === 'allowHTTP1' }, handler);
  const drainer = createDrainer(server, options);
  const sessions = closeHttp2Sessions(server);
  const port = await listen(server);
  cleanups.push(async () => {
    gate.resolve();
    drainer.dispose();
    sessions.destroyAll();
    await closeServer(server);
  });
  return {
    server,
    drainer,
    port,
    calls,
    release: () => gate.resolve(),
    reached(n) {
      if (calls.length >= n) return Promise.resolve();
      return new Promise((wake) => waiters.push({ n, wake }));
    },
  };
}

async function h2(port: number, secure = false): Promise<H2Client> {
  const client = await connectH2(port, secure);
  cleanups.push(() => client.session.destroy());
  return client;
}

async function raw(port: number): Promise<RawH2Client> {
  const client = await RawH2Client.connect(port);
  cleanups.push(() => client.destroy());
  return client;
}

function onlyConnection(drainer: Drainer): string {
  const list = drainer.connections();
  expect(list).toHaveLength(1);
  return list[0]!.id;
}

describe('HTTP/2 connection tracking', () => {
  it('reports an h2c session as protocol h2, not secure', async () => {
    const f = await setup();
    const c = await h2(f.port);
    expect((await h2Request(c.session, '/a')).body).toBe('ok /a');
    expect(f.drainer.connections()[0]!.toJSON()).toMatchObject({ protocol: 'h2', secure: false, requestsServed: 1, inFlight: 0, state: 'idle' });
  });

  it('reports each connection of an allowHTTP1 secure server with the protocol it speaks', async () => {
    const f = await setup({}, 'allowHTTP1');
    const h2client = await h2(f.port, true);
    const h1client = await RawClient.connect(f.port, { tls: true });
    cleanups.push(() => h1client.destroy());
    expect((h1client.socket as tls.TLSSocket).alpnProtocol).toBe('http/1.1');
    h1client.write(get('/one'));
    await h1client.waitFor((d) => d.includes('ok /one'));
    expect((await h2Request(h2client.session, '/two')).body).toBe('ok /two');
    const byPort = new Map(f.drainer.connections().map((c) => [c.remotePort, c]));
    expect(byPort.get(h1client.socket.localPort)).toMatchObject({ protocol: 'http/1.1', secure: true, requestsServed: 1 });
    expect(byPort.get(h2client.session.socket.localPort)).toMatchObject({ protocol: 'h2', secure: true, requestsServed: 1 });
  });

  it('counts open streams as inFlight and only fully sent streams as requestsServed', async () => {
    const f = await setup();
    const c = await h2(f.port);
    const streams = [h2Request(c.session, '/slow1'), h2Request(c.session, '/slow2'), h2Request(c.session, '/slow3')];
    await f.reached(3);
    const id = onlyConnection(f.drainer);
    expect(f.drainer.get(id)).toMatchObject({ inFlight: 3, requestsServed: 0, state: 'active' });
    // A stream the client cancels is not a served request.
    const cancelled = c.session.request({ ':path': '/never' });
    cancelled.on('error', () => undefined);
    cancelled.end();
    await f.reached(4);
    expect(f.drainer.get(id)!.inFlight).toBe(4);
    cancelled.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => f.drainer.get(id)!.inFlight === 3, 5_000, 'cancelled stream to close');
    f.release();
    const outcomes = await Promise.all(streams);
    expect(outcomes.map((o) => o.body)).toEqual(['done /slow1', 'done /slow2', 'done /slow3']);
    await until(() => f.drainer.get(id)!.inFlight === 0, 5_000, 'streams to close');
    expect(f.drainer.get(id)).toMatchObject({ inFlight: 0, requestsServed: 3, state: 'idle' });
  });

  it('finds the connection of an Http2ServerRequest, its response and its stream', async () => {
    const f = await setup();
    const found: Array<string | undefined> = [];
    f.server.prependListener('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      found.push(f.drainer.connectionOf(req)?.id, f.drainer.connectionOf(res)?.id, f.drainer.connectionOf(req.stream)?.id);
    });
    const c = await h2(f.port);
    await h2Request(c.session, '/a');
    const id = onlyConnection(f.drainer);
    expect(found).toEqual([id, id, id]);
  });
});

describe('HTTP/2 graceful drain: two-step GOAWAY (RFC 9113 §6.8)', () => {
  it('sends GOAWAY(2^31-1), PINGs, and sends the final GOAWAY only once the PING is acknowledged', async () => {
    const f = await setup({ goawayPingTimeoutMs: 5_000 });
    const c = await raw(f.port);
    const slow = c.request('/slow');
    await f.reached(1);
    c.autoAckPing = false;
    const draining = f.drainer.drainConnection(onlyConnection(f.drainer));
    await c.waitFor(() => c.goaways.length === 1 && c.pendingPings.length === 1, 'first GOAWAY and a PING');
    expect(c.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: NGHTTP2_NO_ERROR });
    // Time is the subject here: nothing more may come while our PING ACK is outstanding.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(c.goaways).toHaveLength(1);
    const ackedAt = Date.now();
    c.ackPings();
    await c.waitFor(() => c.goaways.length === 2, 'final GOAWAY');
    expect(Date.now() - ackedAt).toBeLessThan(1_000);
    expect(c.goaways[1]).toEqual({ lastStreamId: slow, errorCode: NGHTTP2_NO_ERROR });
    // The open stream finishes with its whole body; then the session closes with a FIN.
    f.release();
    const result = await draining;
    await c.closed;
    expect(c.streams.get(slow)).toMatchObject({ status200: true, data: 'done /slow', ended: true, rstCode: undefined });
    expect(result).toMatchObject({ forced: false, completedRequests: 1, abortedRequests: 0, protocol: 'h2' });
    expect(c.ended).toBe(true);
    expect(c.error).toBeUndefined();
  });

  it('sends the final GOAWAY after goawayPingTimeoutMs when the PING is never acknowledged', async () => {
    const f = await setup({ goawayPingTimeoutMs: 150 });
    const c = await raw(f.port);
    const slow = c.request('/slow');
    await f.reached(1);
    c.autoAckPing = false;
    const startedAt = Date.now();
    const draining = f.drainer.drainConnection(onlyConnection(f.drainer));
    await c.waitFor(() => c.goaways.length === 2, 'final GOAWAY');
    const waited = Date.now() - startedAt;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(1_000);
    expect(c.goaways).toEqual([
      { lastStreamId: MAX_STREAM_ID, errorCode: NGHTTP2_NO_ERROR },
      { lastStreamId: slow, errorCode: NGHTTP2_NO_ERROR },
    ]);
    f.release();
    expect(await draining).toMatchObject({ forced: false, completedRequests: 1 });
  });

  it('never lets streams opened after the GOAWAY reach the application; the final GOAWAY refuses them', async () => {
    const f = await setup({ goawayPingTimeoutMs: 5_000 });
    const c = await raw(f.port);
    const slow = c.request('/slow');
    await f.reached(1);
    c.autoAckPing = false;
    const draining = f.drainer.drainConnection(onlyConnection(f.drainer));
    await c.waitFor(() => c.goaways.length === 1, 'first GOAWAY');
    // A client ignoring GOAWAY opens streams between the two frames and after the final one.
    const between = c.request('/between');
    c.ackPings();
    await c.waitFor(() => c.goaways.length === 2, 'final GOAWAY');
    const after = c.request('/after');
    f.release();
    const result = await draining;
    await c.closed;
    expect(f.calls).toEqual(['/slow']);
    // Above the final GOAWAY's last stream id: not processed, safe to retry (RFC 9113 §6.8).
    expect(c.goaways[1]!.lastStreamId).toBe(slow);
    for (const id of [between, after]) {
      expect(id).toBeGreaterThan(c.goaways[1]!.lastStreamId);
      const stream = c.streams.get(id)!;
      expect(stream.headers).toBe(false);
      expect(stream.data).toBe('');
      if (stream.rstCode !== undefined) expect(stream.rstCode).toBe(NGHTTP2_REFUSED_STREAM);
    }
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
    expect(c.error).toBeUndefined();
  });

  it('with node:http2 clients: two goaway events, open streams finish, later requests are refused, no reset', async () => {
    const f = await setup();
    const c = await h2(f.port);
    const streams = [h2Request(c.session, '/slow1'), h2Request(c.session, '/slow2')];
    await f.reached(2);
    const id = onlyConnection(f.drainer);
    const draining = f.drainer.drainConnection(id);
    await until(() => c.goaways.length >= 2, 5_000, 'two GOAWAY frames');
    expect(c.goaways[0]).toEqual([NGHTTP2_NO_ERROR, MAX_STREAM_ID]);
    // Then the real last stream id: the second stream this client opened (ids 1, 3).
    // (A node:http2 client answers the first GOAWAY with its own, on which Node's
    // server session repeats the same final GOAWAY: hence "every later one".)
    for (const frame of c.goaways.slice(1)) expect(frame).toEqual([NGHTTP2_NO_ERROR, 3]);
    const late = await h2Request(c.session, '/late');
    expect(late).toMatchObject({ errorCode: 'ERR_HTTP2_GOAWAY_SESSION', bytes: 0 });
    f.release();
    const outcomes = await Promise.all(streams);
    expect(outcomes).toMatchObject([
      { status: 200, body: 'done /slow1', ended: true, rstCode: undefined },
      { status: 200, body: 'done /slow2', ended: true, rstCode: undefined },
    ]);
    const result = await draining;
    await c.closed;
    expect(result).toMatchObject({ forced: false, completedRequests: 2, abortedRequests: 0, droppedRequests: 0 });
    expect(f.calls).toEqual(['/slow1', '/slow2']);
    expect(c.errors).toEqual([]);
    expect(f.drainer.get(id)).toBeUndefined();
  });

  it('reads what reached the socket before the drain began before sending its first GOAWAY: that stream is served', async () => {
    // Behind HAProxy (proto h2) on a busy backend, requests that arrived while the
    // loop was busy were still unread when the first GOAWAY went out; nghttp2 then
    // ignores them (no stream is accepted once a GOAWAY is sent), the final GOAWAY
    // names the stream before, and HAProxy, which does not resend by default, reset
    // its clients (soak/proxy/run.mjs --proxies haproxy-h2).
    const f = await setup({ goawayPingTimeoutMs: 5_000 });
    const c = await raw(f.port);
    const a = c.request('/a');
    await c.waitFor(() => c.streams.get(a)!.ended, '/a');
    const id = onlyConnection(f.drainer);
    // The drain is decided in an I/O callback, after this poll phase's events were
    // collected; the client's request reaches the server's socket during it.
    let b = 0;
    let draining: Promise<DrainResult> | undefined;
    const trigger = net.createServer((socket) =>
      socket.once('data', () => {
        b = c.request('/b');
        const until = Date.now() + 20;
        while (Date.now() < until); // the request is in the server's receive buffer now
        draining = f.drainer.drainConnection(id);
        socket.destroy();
      }),
    );
    const port = await listen(trigger);
    cleanups.push(() => closeServer(trigger));
    const poke = net.connect(port, '127.0.0.1', () => poke.write('x'));
    await until(() => draining !== undefined);
    const result = await draining!;
    await c.closed;
    expect(f.calls).toEqual(['/a', '/b']);
    expect(c.streams.get(b)).toMatchObject({ headers: true, data: 'ok /b', ended: true });
    expect(c.goaways.at(-1)!.lastStreamId).toBe(b);
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
  });

  it('closes an idle session within milliseconds, without waiting for a PING Node would never read', async () => {
    // Once a GOAWAY is out and no stream is open, nghttp2 wants no more input and
    // Node stops reading: a PING ACK would never be seen (the old 1 s stall).
    const f = await setup({ goawayPingTimeoutMs: 5_000 });
    const c = await h2(f.port);
    await h2Request(c.session, '/a');
    const startedAt = Date.now();
    const result = await f.drainer.drainConnection(onlyConnection(f.drainer));
    await c.closed;
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(result).toMatchObject({ forced: false, completedRequests: 0 });
    // GOAWAY(2^31-1) first; the final one follows 10 ms later, not after goawayPingTimeoutMs
    // (this client closes on the first, so it may not see the final one).
    expect(c.goaways[0]).toEqual([NGHTTP2_NO_ERROR, MAX_STREAM_ID]);
    expect(c.errors).toEqual([]);
  });

  it('sends the final GOAWAY as soon as the last open stream closes, even with the PING unanswered', async () => {
    const f = await setup({ goawayPingTimeoutMs: 5_000 });
    const c = await raw(f.port);
    const slow = c.request('/slow');
    await f.reached(1);
    c.autoAckPing = false;
    const draining = f.drainer.drainConnection(onlyConnection(f.drainer));
    await c.waitFor(() => c.goaways.length === 1, 'first GOAWAY');
    const releasedAt = Date.now();
    f.release();
    // session.close() repeats the final GOAWAY: wait for at least one, or the close.
    await c.waitFor(() => c.goaways.length >= 2 || c.ended, 'final GOAWAY');
    expect(Date.now() - releasedAt).toBeLessThan(1_000);
    expect(c.goaways[1]).toEqual({ lastStreamId: slow, errorCode: NGHTTP2_NO_ERROR });
    expect(await draining).toMatchObject({ forced: false, completedRequests: 1 });
    await c.closed;
    expect(c.streams.get(slow)).toMatchObject({ data: 'done /slow', ended: true, rstCode: undefined });
  });

  it('destroys the session at the deadline and reports forced: true', async () => {
    const f = await setup();
    const c = await h2(f.port);
    const never = h2Request(c.session, '/never');
    await f.reached(1);
    const closes: boolean[] = [];
    f.drainer.on('connection:close', (event) => closes.push(event.forced));
    const result = await f.drainer.drainConnection(onlyConnection(f.drainer), { timeoutMs: 100 });
    expect(result).toMatchObject({ forced: true, completedRequests: 0, abortedRequests: 1, protocol: 'h2' });
    expect(result.durationMs).toBeGreaterThanOrEqual(95);
    expect(closes).toEqual([true]);
    const outcome = await never;
    expect(outcome.ended && outcome.status === 200).toBe(false);
    await c.closed;
    expect(f.drainer.stats()).toMatchObject({ open: 0, forcedClosed: 1 });
  });

  it('drains an h2 session over TLS the same way', async () => {
    const f = await setup({}, 'secure');
    const c = await h2(f.port, true);
    const slow = h2Request(c.session, '/slow');
    await f.reached(1);
    expect(f.drainer.connections()[0]).toMatchObject({ protocol: 'h2', secure: true, inFlight: 1 });
    const draining = f.drainer.drainConnection(onlyConnection(f.drainer));
    await until(() => c.goaways.length >= 2, 5_000, 'two GOAWAY frames');
    f.release();
    expect(await slow).toMatchObject({ status: 200, body: 'done /slow', ended: true });
    expect(await draining).toMatchObject({ forced: false, completedRequests: 1 });
    await c.closed;
    expect(c.goaways[0]).toEqual([NGHTTP2_NO_ERROR, MAX_STREAM_ID]);
    for (const frame of c.goaways.slice(1)) expect(frame).toEqual([NGHTTP2_NO_ERROR, 1]);
    expect(c.errors).toEqual([]);
  });
});

describe("HTTP/2: a new session's first stream (idleGraceMs)", () => {
  async function freshSession(options: DrainerOptions) {
    const f = await setup({ goawayPingTimeoutMs: 5_000, ...options });
    const c = await raw(f.port);
    await until(() => f.drainer.connections().length === 1, 5_000, 'the session to be tracked');
    return { f, c, id: onlyConnection(f.drainer) };
  }

  it('waits for the stream the client connected for, serves it, then goes away', async () => {
    // A GOAWAY first would leave nghttp2 reading nothing more: the request would be
    // refused, and Chromium fails a navigation on it (docs/protocols.md).
    const { f, c, id } = await freshSession({ idleGraceMs: 5_000 });
    const draining = f.drainer.drainConnection(id);
    // Time is the subject: no GOAWAY while the first stream may still come.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(c.goaways).toEqual([]);
    const first = c.request('/first');
    const result = await draining;
    await c.closed;
    expect(f.calls).toEqual(['/first']);
    expect(c.streams.get(first)).toMatchObject({ status200: true, data: 'ok /first', ended: true, rstCode: undefined });
    expect(c.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: NGHTTP2_NO_ERROR });
    expect(c.goaways.at(-1)).toEqual({ lastStreamId: first, errorCode: NGHTTP2_NO_ERROR });
    expect(result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 0 });
    expect(result.durationMs).toBeLessThan(5_000);
  });

  it('goes away once idleGraceMs has passed since the session opened when no stream comes', async () => {
    const { f, c, id } = await freshSession({ idleGraceMs: 300 });
    const startedAt = Date.now();
    const result = await f.drainer.drainConnection(id);
    await c.closed;
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(200);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(c.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: NGHTTP2_NO_ERROR });
    expect(result).toMatchObject({ forced: false, completedRequests: 0 });
    expect(c.error).toBeUndefined();
  });

  it('ends the wait before a short timeoutMs, so a session with nothing to lose is not reported forced', async () => {
    const { f, c, id } = await freshSession({ idleGraceMs: 5_000 });
    // The wait ends a quarter of the timeout before the deadline (250 ms here: room on a loaded machine).
    const result = await f.drainer.drainConnection(id, { timeoutMs: 1_000 });
    await c.closed;
    expect(result).toMatchObject({ forced: false, completedRequests: 0 });
    expect(result.durationMs).toBeGreaterThanOrEqual(600);
    expect(result.durationMs).toBeLessThan(1_000);
    expect(c.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: NGHTTP2_NO_ERROR });
  });

  it('with idleGraceMs: 0 sends the first GOAWAY at once, as before', async () => {
    const { f, c, id } = await freshSession({ idleGraceMs: 0 });
    const startedAt = Date.now();
    const draining = f.drainer.drainConnection(id);
    await c.waitFor(() => c.goaways.length >= 1, 'first GOAWAY');
    expect(Date.now() - startedAt).toBeLessThan(200);
    expect(c.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: NGHTTP2_NO_ERROR });
    expect(await draining).toMatchObject({ forced: false, completedRequests: 0 });
  });
});
