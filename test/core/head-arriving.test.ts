import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { closeServer, get, listen, RawClient, until } from '../helpers/net.js';

/**
 * "A request head is arriving" on a keep-alive connection that has already
 * served a request. drainkit no longer reads socket.bytesRead per response:
 * a listening server answers it from Node's own list of its parsers
 * (message-in-progress.ts), and a server whose sockets are handed in without
 * listen() falls back to bytesRead. Both must serve the arriving request.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function app(): http.Server {
  return http.createServer((req, res) => res.end(`ok ${req.url}`));
}

/** A listening server with a drainer: Node lists its parsers. */
async function listening(): Promise<{ drainer: Drainer; port: number }> {
  const server = app();
  const drainer = createDrainer(server, { idleGraceMs: 0 });
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    await closeServer(server);
  });
  return { drainer, port };
}

/** An HTTP server that never listens: a plain net.Server hands it each socket, so Node keeps no parser list for it. */
async function handedIn(): Promise<{ drainer: Drainer; port: number }> {
  const server = app();
  const drainer = createDrainer(server, { idleGraceMs: 0 });
  const front = net.createServer((socket) => server.emit('connection', socket));
  const port = await listen(front);
  cleanups.push(async () => {
    drainer.dispose();
    for (const connection of drainer.connections()) (connection as unknown as { socket: net.Socket }).socket.destroy();
    await closeServer(front);
  });
  return { drainer, port };
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  cleanups.push(() => c.destroy());
  return c;
}

const socketOf = (drainer: Drainer): net.Socket => (drainer.connections()[0] as unknown as { socket: net.Socket }).socket;

describe.each([
  ['a listening server (Node lists its parsers)', listening],
  ['a server whose sockets are handed in (no parser list)', handedIn],
])('head arriving after a served request, %s', (_name, make) => {
  it('serves the request whose head was partly received when the drain began', async () => {
    const { drainer, port } = await make();
    const c = await client(port);
    c.write(get('/first'));
    await c.waitFor((d) => d.includes('ok /first'));
    await until(() => drainer.connections()[0]?.state === 'idle');
    const before = socketOf(drainer).bytesRead;
    c.write('GET /second HTTP/1.1\r\nHost: local');
    await until(() => socketOf(drainer).bytesRead > before);
    const [conn] = drainer.connections();
    const draining = drainer.drainConnection(conn!.id, { timeoutMs: 2_000 });
    await new Promise((resolve) => setImmediate(resolve));
    // idleGraceMs is 0: without the head it would have been half-closed by now.
    expect(c.ended).toBe(false);
    c.write('host\r\n\r\n');
    const result = await draining;
    await c.closed;
    expect(c.data).toContain('ok /second');
    expect(c.data.slice(c.data.indexOf('ok /first')).toLowerCase()).toContain('connection: close');
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
  });

  it('closes an idle connection at once when nothing is arriving, and a forced close of a stalled head says forced', async () => {
    const { drainer, port } = await make();
    const idle = await client(port);
    idle.write(get('/first'));
    await idle.waitFor((d) => d.includes('ok /first'));
    await until(() => drainer.connections()[0]?.state === 'idle');
    const result = await drainer.drainConnection(drainer.connections()[0]!.id, { timeoutMs: 2_000 });
    await idle.closed;
    expect(result).toMatchObject({ forced: false, completedRequests: 0, durationMs: expect.any(Number) });
    expect(result.durationMs).toBeLessThan(1_000);

    const stalled = await client(port);
    stalled.write(get('/one'));
    await stalled.waitFor((d) => d.includes('ok /one'));
    await until(() => drainer.connections()[0]?.state === 'idle');
    const before = socketOf(drainer).bytesRead;
    stalled.write('GET /never-complete HTTP/1.1\r\nHo');
    await until(() => socketOf(drainer).bytesRead > before);
    const forced = await drainer.drainConnection(drainer.connections()[0]!.id, { timeoutMs: 100 });
    await stalled.closed;
    expect(forced.forced).toBe(true);
    expect(forced.durationMs).toBeGreaterThanOrEqual(95);
  });
});
