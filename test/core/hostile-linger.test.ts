import { once } from 'node:events';
import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import { describe, expect, it } from 'vitest';
import { RawClient, deferred, get, listen, until } from '../helpers/net.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { idleHalfOpenClient } from '../helpers/fixtures.js';

// Issue 12 item 2 at test scale, on real sockets (the rest of the issue: hostile.test.ts).
// The figures at scale: soak/hostile.mjs case 2.

const env = cleanupAfterEach();
const { drainers, clients, track } = env;

describe('lingering sockets do not parse (item 2)', () => {
  it('a lingering socket the drain had paused reads on: what the client writes after the FIN is counted, and its FIN is seen long before lingerMs', async () => {
    const gate = deferred();
    let handled = 0;
    const server = track(
      http.createServer((_req, res) => {
        handled++;
        void gate.promise.then(() => res.end('slow'));
      }),
    );
    const drainer = createDrainer(server, { lingerMs: 20_000 });
    drainers.push(drainer);
    const port = await listen(server);
    const client = await RawClient.connect(port, { allowHalfOpen: true });
    clients.push(client);
    client.write(get('/slow'));
    await until(() => handled === 1);
    // The drain stops the socket reading while /slow is in flight (item 1), with
    // requests pipelined behind it unread; the lingering close must undo that.
    const drained = drainer.drain();
    client.write(get('/behind').repeat(200));
    await new Promise((resolve) => setTimeout(resolve, 50));
    gate.resolve();
    await drained;
    await client.waitForEnd();
    expect(drainer.stats().lingering).toBe(1);
    client.write(get('/late').repeat(500));
    await until(() => drainer.stats().unanswered === 700, 3_000, '700 requests read and counted after the FIN');
    const endedAt = Date.now();
    client.socket.end();
    await until(() => drainer.stats().lingering === 0, 5_000, 'the client FIN to be seen');
    expect(Date.now() - endedAt).toBeLessThan(5_000);
    await client.closed;
    expect(client.error).toBeUndefined();
    expect(handled).toBe(1);
    expect(client.responseCount).toBe(1);
  });

  it('requests pipelined behind the last response of a drain are counted and dropped as Node parses them: no ServerResponse is made or queued for them', async () => {
    // Node makes a ServerResponse per parsed request and queues it (state.outgoing)
    // until the socket closes: a lingering socket kept thousands of them per read.
    let responses = 0;
    class CountedResponse extends http.ServerResponse {
      constructor(req: http.IncomingMessage) {
        super(req);
        responses++;
      }
    }
    const handled: string[] = [];
    const server = track(
      http.createServer({ ServerResponse: CountedResponse }, (req, res) => {
        handled.push(req.url ?? '');
        res.end('ok');
      }),
    );
    const { drainer, client } = await idleHalfOpenClient(env, server, { idleGraceMs: 10_000, lingerMs: 5_000 });
    const drained = drainer.drain();
    // Within the idle grace: the first is served (with Connection: close), all the others in the same reads are not.
    const count = 3_000;
    client.write(get('/x').repeat(count));
    await drained;
    await until(() => drainer.stats().unanswered === count - 1, 3_000, 'every request behind the served one counted');
    expect(handled).toEqual(['/a', '/x']);
    // /a, /x, and the first one held behind /x: nothing after it gets a response object.
    expect(responses).toBe(3);
    await client.waitForEnd();
    expect(client.responseCount).toBe(2);
    client.socket.end();
    await until(() => drainer.stats().lingering === 0, 3_000, 'the lingering socket to close');
    expect(client.error).toBeUndefined();
  });

  it('a request whose head the parser had begun when the socket started to linger is counted once its head ends after the FIN', async () => {
    const handled: string[] = [];
    const server = track(
      http.createServer((req, res) => {
        handled.push(req.url ?? '');
        res.end('ok');
      }),
    );
    const { drainer, client } = await idleHalfOpenClient(env, server, { idleGraceMs: 10_000, lingerMs: 5_000 });
    const drained = drainer.drain();
    // /b is served within the idle grace (the last response); /c's request line is read with it, the rest of its head after the FIN.
    client.write(`${get('/b')}GET /c HTTP/1.1\r\nHo`);
    await drained;
    await client.waitForEnd();
    expect(drainer.stats().lingering).toBe(1);
    client.write(`st: localhost\r\n\r\n${get('/d')}`);
    await until(() => drainer.stats().unanswered === 2, 3_000, '/c and /d counted');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drainer.stats().unanswered).toBe(2);
    expect(handled).toEqual(['/a', '/b']);
  });

  it('a client that goes on writing after the FIN (over 1 MiB) is reset then, not read until lingerMs', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    const { drainer, client } = await idleHalfOpenClient(env, server, { idleGraceMs: 0, lingerMs: 30_000 });
    await drainer.drain();
    await client.waitForEnd();
    expect(drainer.stats().lingering).toBe(1);
    // A flood: 3 MiB of requests, as fast as the socket takes them.
    const batch = get('/x').repeat(1_000);
    for (let written = 0; written < 3 * 2 ** 20 && !client.socket.destroyed; written += batch.length) {
      if (!client.socket.write(batch)) await Promise.race([once(client.socket, 'drain'), client.closed]);
    }
    await until(() => drainer.stats().lingering === 0, 5_000, 'the flooding socket to be reset');
    // The client learns of the reset on its next write.
    client.socket.write(get('/after'));
    await client.closed;
    expect(client.error?.code).toMatch(/ECONNRESET|EPIPE/);
    // What was read (at least 1 MiB) was counted; the rest never reached drainkit.
    const perRequest = get('/x').length;
    expect(drainer.stats().unanswered).toBeGreaterThanOrEqual(Math.floor(2 ** 20 / perRequest));
    expect(drainer.stats().unanswered).toBeLessThan(Math.ceil((3 * 2 ** 20) / perRequest));
  });
});
