import http from 'node:http';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer, DrainError } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { closeHttp2Sessions, connectH2 } from '../helpers/h2.js';
import { closeServer, deferred, listen, until } from '../helpers/net.js';

/**
 * Server-Sent Events: the handler streams until drainer.signalFor(req) aborts,
 * then writes a last event naming the abort reason and ends the response.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface SseServer {
  drainer: Drainer;
  port: number;
  /** Resolves when the handler has subscribed to the signal. */
  streaming: Promise<void>;
  reasons: unknown[];
}

function lastEvent(reason: unknown): string {
  return `event: bye\ndata: ${(reason as DrainError).code}\n\n`;
}

async function http1Sse(): Promise<SseServer> {
  const streaming = deferred();
  const reasons: unknown[] = [];
  let drainer!: Drainer;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: hello\n\n');
    const signal = drainer.signalFor(req);
    signal.addEventListener('abort', () => {
      reasons.push(signal.reason);
      res.end(lastEvent(signal.reason));
    });
    streaming.resolve();
  });
  drainer = createDrainer(server);
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    await closeServer(server);
  });
  return { drainer, port, streaming: streaming.promise, reasons };
}

/** Reads an event stream with a keep-alive agent; resolves with the text and whether it ended cleanly. */
function readStream(port: number, agent: http.Agent): { text: () => string; done: Promise<{ text: string; complete: boolean }> } {
  let text = '';
  const done = new Promise<{ text: string; complete: boolean }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/events', agent }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ text, complete: res.complete }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  return { text: () => text, done };
}

describe('long-lived responses: drainer.signalFor()', () => {
  it('HTTP/1.1 SSE: the signal aborts on drain, the handler ends with a final event, nothing is forced', async () => {
    const s = await http1Sse();
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const stream = readStream(s.port, agent);
    await s.streaming;
    await until(() => stream.text().includes('data: hello'));
    const id = s.drainer.connections()[0]!.id;
    // A long timeout: without the signal the drain could only end by force at the deadline.
    const result = await s.drainer.drainConnection(id, { timeoutMs: 10_000 });
    const { text, complete } = await stream.done;
    expect(text).toBe('data: hello\n\nevent: bye\ndata: ERR_DRAIN_CONNECTION_DRAINING\n\n');
    expect(complete).toBe(true);
    expect(s.reasons).toHaveLength(1);
    expect(s.reasons[0]).toBeInstanceOf(DrainError);
    expect(result).toMatchObject({ forced: false, completedRequests: 1, abortedRequests: 0 });
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('HTTP/1.1 SSE: shutdown aborts the signal with ERR_DRAIN_SHUTTING_DOWN and the report has nothing forced', async () => {
    const s = await http1Sse();
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const streams = [readStream(s.port, agent), readStream(s.port, agent)];
    await until(() => streams.every((st) => st.text().includes('data: hello')));
    const report = await s.drainer.shutdown({ timeoutMs: 10_000 });
    for (const st of streams) {
      const { text, complete } = await st.done;
      expect(text).toBe('data: hello\n\nevent: bye\ndata: ERR_DRAIN_SHUTTING_DOWN\n\n');
      expect(complete).toBe(true);
    }
    expect(report).toMatchObject({ total: 2, forced: 0 });
  });

  it('a signal asked for on a connection that is already draining is aborted from the start', async () => {
    const gate = deferred();
    let drainer!: Drainer;
    let late: AbortSignal | undefined;
    const server = http.createServer((req, res) => {
      void gate.promise.then(() => {
        late = drainer.signalFor(req);
        res.end('ok');
      });
    });
    drainer = createDrainer(server);
    const port = await listen(server);
    cleanups.push(async () => {
      drainer.dispose();
      await closeServer(server);
    });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const response = readStream(port, agent);
    await until(() => drainer.connections()[0]?.inFlight === 1);
    const draining = drainer.drainConnection(drainer.connections()[0]!.id);
    gate.resolve();
    await response.done;
    await draining;
    expect(late?.aborted).toBe(true);
    expect((late?.reason as DrainError | undefined)?.code).toBe('ERR_DRAIN_CONNECTION_DRAINING');
  });

  it('rejects a target that is not an object with ERR_DRAIN_INVALID_ARGUMENT', async () => {
    const s = await http1Sse();
    expect(() => s.drainer.signalFor('req')).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
  });

  for (const api of ['compat', 'stream'] as const) {
    it(`HTTP/2 SSE (${api === 'compat' ? 'Http2ServerRequest' : 'ServerHttp2Stream'}): final event, clean end of stream, not forced`, async () => {
      const streaming = deferred();
      let drainer!: Drainer;
      const server = http2.createServer();
      if (api === 'compat') {
        server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: hello\n\n');
          const signal = drainer.signalFor(req);
          signal.addEventListener('abort', () => res.end(lastEvent(signal.reason)));
          streaming.resolve();
        });
      } else {
        server.on('stream', (stream) => {
          stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
          stream.write('data: hello\n\n');
          const signal = drainer.signalFor(stream);
          signal.addEventListener('abort', () => stream.end(lastEvent(signal.reason)));
          streaming.resolve();
        });
      }
      // A node:http2 client left idle by the GOAWAY never acknowledges the PING: do not wait a second for it.
      drainer = createDrainer(server, { goawayPingTimeoutMs: 100 });
      const sessions = closeHttp2Sessions(server);
      const port = await listen(server);
      cleanups.push(async () => {
        drainer.dispose();
        sessions.destroyAll();
        await closeServer(server);
      });
      const client = await connectH2(port, false);
      cleanups.push(() => client.session.destroy());
      const req = client.session.request({ ':path': '/events' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((resolve) => req.on('end', () => resolve()));
      const closed = new Promise<number | undefined>((resolve) => req.on('close', () => resolve(req.rstCode)));
      req.end();
      await streaming.promise;
      const result = await drainer.drainConnection(drainer.connections()[0]!.id, { timeoutMs: 10_000 });
      await ended;
      expect(await closed).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(text).toBe('data: hello\n\nevent: bye\ndata: ERR_DRAIN_CONNECTION_DRAINING\n\n');
      expect(result).toMatchObject({ forced: false, completedRequests: 1, protocol: 'h2' });
      expect(client.errors).toEqual([]);
    });
  }
});
