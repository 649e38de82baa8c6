import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { describe, expect, it } from 'vitest';
import { RawH2Client } from '../helpers/h2-raw.js';
import { deferred, listen, until } from '../helpers/net.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { testCertificate } from '../helpers/tls.js';

// An HTTP/2 drain is over once the server's FIN is out, as an HTTP/1.1 one is
// (lingering-close.ts): nothing can be served on the session after it. Its
// socket then lingers for the client's FIN on the drainer's one linger timer,
// at most lingerMs. Before, the drain (and shutdown()'s promise and report)
// waited for the socket to close: up to lingerMs more for a client that
// ignores the server's FIN (soak/hostile.mjs case 5).

const env = cleanupAfterEach();
const { drainers, clients, track } = env;

const LINGER_MS = 2_000;

type Kind = 'h2c' | 'tls';

/**
 * A session whose client ignores the server's FIN (it never ends nor destroys
 * its socket). `slow`: its stream is in flight until `release()`; else it was
 * served before.
 */
async function session(kind: Kind, slow = false) {
  const gate = deferred();
  const handler = (_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (slow) void gate.promise.then(() => res.end('slow'));
    else res.end('ok');
  };
  const server = track(kind === 'h2c' ? http2.createServer(handler) : http2.createSecureServer(await testCertificate(), handler));
  const drainer = createDrainer(server, { lingerMs: LINGER_MS, timeoutMs: 10_000 });
  drainers.push(drainer);
  // The server's side of the one connection (the TLSSocket over TLS: the one drainkit tracks).
  let serverSocket: Socket | undefined;
  server.on(kind === 'h2c' ? 'connection' : 'secureConnection', (socket: Socket) => (serverSocket = socket));
  const port = await listen(server);
  const client = await RawH2Client.connect(port, { allowHalfOpen: true, tls: kind === 'tls' });
  clients.push(client);
  const stream = client.request('/');
  const responded = client.waitFor(() => client.streams.get(stream)?.ended === true, 'the response');
  if (slow) await until(() => drainer.connections()[0]?.inFlight === 1, 5_000, 'the stream to reach the handler');
  else {
    await responded;
    await until(() => drainer.connections()[0]?.state === 'idle', 5_000, 'the stream to close');
  }
  if (serverSocket === undefined) throw new Error('no server socket');
  return { drainer, server, client, serverSocket, release: gate.resolve, responded };
}

/** When `socketsClosed()` resolves (0 until then). */
function watchSocketsClosed(drainer: Drainer): { at: number } {
  const closed = { at: 0 };
  void drainer.socketsClosed().then(() => (closed.at = Date.now()));
  return closed;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("HTTP/2: the drain's result is final once the server's FIN is out", () => {
  it.each(['h2c', 'tls'] as const)(
    '%s: shutdown() resolves without waiting lingerMs for a client that ignores the FIN; the socket lingers, unreset, until the client closes; socketsClosed() waits for it',
    async (kind) => {
      const { drainer, client, serverSocket, release, responded } = await session(kind, true);
      const finishListeners = serverSocket.listenerCount('finish');
      const startedAt = Date.now();
      const stopping = drainer.shutdown();
      // The stream in flight finishes during the drain: the report counts it.
      await client.waitFor(() => client.goaways.length > 0, 'the first GOAWAY');
      release();
      await responded;
      const report = await stopping;
      const elapsed = Date.now() - startedAt;
      // Before: the socket's close, at lingerMs after session.close().
      expect(elapsed).toBeLessThan(LINGER_MS / 2);
      expect(report).toMatchObject({ kind: 'shutdown', total: 1, closed: 1, forced: 0 });
      expect(report.results[0]).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 0, abortedRequests: 0, protocol: 'h2' });
      expect(report.results[0]!.durationMs).toBeLessThan(LINGER_MS / 2);
      // Both GOAWAYs, then the FIN.
      expect(client.goaways.at(-1)).toEqual({ lastStreamId: 1, errorCode: 0 });
      await client.waitFor(() => client.ended, "the server's FIN");
      expect(drainer.stats()).toMatchObject({ open: 0, lingering: 1, drained: 1, forcedClosed: 0 });
      expect(drainer.connections()).toHaveLength(0);
      // The 'finish' listener that released it went with the event.
      expect(serverSocket.listenerCount('finish')).toBe(finishListeners);
      const closed = watchSocketsClosed(drainer);
      // The server still reads: a frame sent after its FIN is discarded, not answered with a reset.
      await sleep(200);
      client.ping();
      await sleep(200);
      expect(client.error).toBeUndefined();
      expect(client.socket.destroyed).toBe(false);
      expect(closed.at).toBe(0);
      expect(drainer.stats().lingering).toBe(1);
      // The client's FIN ends the lingering close at once.
      const endedAt = Date.now();
      client.socket.end();
      await until(() => closed.at !== 0, LINGER_MS, 'socketsClosed() after the client FIN');
      expect(closed.at - endedAt).toBeLessThan(LINGER_MS / 2);
      await client.closed;
      expect(client.error).toBeUndefined();
      expect(drainer.stats()).toMatchObject({ open: 0, lingering: 0, drained: 1, forcedClosed: 0 });
    },
  );

  it('a client that never closes: socketsClosed() resolves lingerMs after the FIN, when the socket is destroyed; the report stays not forced', async () => {
    const { drainer, server, client } = await session('h2c');
    const report = await drainer.shutdown();
    await client.waitFor(() => client.ended, "the server's FIN");
    const finAt = Date.now();
    const closed = watchSocketsClosed(drainer);
    await until(() => closed.at !== 0, LINGER_MS * 3, 'socketsClosed()');
    // Not before lingerMs (the timer starts at the release, just before the client saw the FIN), not much after.
    expect(closed.at - finAt).toBeGreaterThanOrEqual(LINGER_MS - 100);
    expect(closed.at - finAt).toBeLessThan(LINGER_MS + 1_000);
    expect(report).toMatchObject({ total: 1, closed: 1, forced: 0 });
    expect(drainer.stats()).toMatchObject({ open: 0, lingering: 0, forcedClosed: 0 });
    const open = await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)));
    expect(open).toBe(0);
  });

  it("drain() resolves at the FIN too: the connection leaves connections() and its socket lingers until the client's FIN", async () => {
    const { drainer, client } = await session('h2c');
    const startedAt = Date.now();
    const report = await drainer.drain();
    expect(Date.now() - startedAt).toBeLessThan(LINGER_MS / 2);
    expect(report).toMatchObject({ kind: 'batch', total: 1, closed: 1, forced: 0 });
    // The stream was served before the drain began: none completed during it.
    expect(report.results[0]).toMatchObject({ forced: false, completedRequests: 0, droppedRequests: 0, abortedRequests: 0 });
    await client.waitFor(() => client.ended, "the server's FIN");
    expect(client.goaways[0]).toEqual({ lastStreamId: 2 ** 31 - 1, errorCode: 0 });
    expect(client.goaways.at(-1)).toEqual({ lastStreamId: 1, errorCode: 0 });
    expect(drainer.connections()).toHaveLength(0);
    expect(drainer.stats()).toMatchObject({ open: 0, lingering: 1 });
    client.socket.end();
    await until(() => drainer.stats().lingering === 0, LINGER_MS, 'the client FIN to end the linger');
    await client.closed;
    expect(client.error).toBeUndefined();
  });
});
