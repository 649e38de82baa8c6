import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { ConnectionInfo, Drainer } from '@drainkit/core';
import { closeServer, deferred, get, listen, RawClient, request, until } from '../helpers/net.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(handler: http.RequestListener, attach = true): Promise<{ server: http.Server; drainer: Drainer; port: number }> {
  const server = http.createServer(handler);
  const drainer = createDrainer(server);
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    await closeServer(server);
  });
  if (!attach) drainer.dispose();
  return { server, drainer, port };
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  cleanups.push(() => c.destroy());
  return c;
}

describe('drainer API', () => {
  it('finds the connection of a request, its response and its socket', async () => {
    const seen: Array<[ConnectionInfo | undefined, ConnectionInfo | undefined, ConnectionInfo | undefined]> = [];
    let drainer!: Drainer;
    ({ drainer } = await serve((req, res) => {
      seen.push([drainer.connectionOf(req), drainer.connectionOf(res), drainer.connectionOf(req.socket)]);
      res.end('ok');
    }));
    const port = (drainer.server.address() as { port: number }).port;
    const c = await client(port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok'));
    const [conn] = drainer.connections();
    expect(seen).toEqual([[conn, conn, conn]]);
    expect(drainer.connectionOf({})).toBeUndefined();
    expect(drainer.connectionOf(null)).toBeUndefined();
    expect(JSON.parse(JSON.stringify(conn))).toMatchObject({ id: conn!.id, protocol: 'http/1.1', requestsServed: 1, state: 'idle' });
  });

  it('emits typed events in order for a drain', async () => {
    const { drainer, port } = await serve((req, res) => res.end('ok'));
    const log: string[] = [];
    drainer.on('connection:open', ({ connection }) => log.push(`open ${connection.id}`));
    drainer.on('drain:start', ({ kind, total }) => log.push(`start ${kind} ${total}`));
    drainer.on('connection:drained', (result) => log.push(`drained ${result.id} forced=${result.forced}`));
    drainer.on('connection:close', ({ connection, forced }) => log.push(`close ${connection.id} forced=${forced}`));
    drainer.on('drain:end', (report) => log.push(`end ${report.kind} ${report.closed}/${report.total}`));
    const c = await client(port);
    await until(() => drainer.connections().length === 1);
    const id = drainer.connections()[0]!.id;
    await drainer.drainConnection(id);
    await c.closed;
    expect(log).toEqual([`open ${id}`, 'start connection 1', `drained ${id} forced=false`, `close ${id} forced=false`, 'end connection 1/1']);
  });

  it('a throwing event listener does not break the drain', async () => {
    const { drainer, port } = await serve((req, res) => res.end('ok'));
    drainer.on('connection:close', () => {
      throw new Error('listener bug');
    });
    const c = await client(port);
    await until(() => drainer.connections().length === 1);
    const result = await drainer.drainConnection(drainer.connections()[0]!.id);
    expect(result.forced).toBe(false);
    await c.closed;
  });

  it('dispose() detaches, releasing held pipelined requests to the application', async () => {
    const calls: string[] = [];
    const gate = deferred();
    const { drainer, port, server } = await serve((req, res) => {
      calls.push(req.url!);
      if (req.url === '/slow') void gate.promise.then(() => res.end('slow'));
      else res.end(`ok ${req.url}`);
    });
    const c = await client(port);
    c.write(get('/slow') + get('/b'));
    await until(() => calls.length === 1 && (drainer.connections()[0]?.inFlight ?? 0) === 1);
    // /b has been parsed and is held by drainkit; dispose hands it to the application.
    await until(() => (drainer.connections()[0] as unknown as { held?: unknown[] }).held?.length === 1);
    drainer.dispose();
    expect(calls).toEqual(['/slow', '/b']);
    gate.resolve();
    await c.waitFor(() => c.responseCount === 2);
    expect(drainer.connections()).toEqual([]);
    await expect(drainer.drain()).rejects.toMatchObject({ code: 'ERR_DRAIN_DISPOSED' });
    // The server accepts a new drainer afterwards.
    const again = createDrainer(server);
    again.dispose();
  });

  it('drainAfterResponse(req) closes that connection after the response, and no other', async () => {
    let drainer!: Drainer;
    ({ drainer } = await serve((req, res) => {
      if (req.url === '/bye') void drainer.drainAfterResponse(req);
      res.end(`ok ${req.url}`);
    }));
    const port = (drainer.server.address() as { port: number }).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    cleanups.push(() => agent.destroy());
    const [first, second] = await Promise.all([request(agent, port, '/a'), request(agent, port, '/b')]);
    expect(first.body).toBe('ok /a');
    expect(second.body).toBe('ok /b');
    await until(() => drainer.connections().length === 2 && drainer.stats().inFlight === 0);
    const bye = await request(agent, port, '/bye');
    expect(bye.headers.connection).toBe('close');
    await until(() => drainer.connections().length === 1);
    const again = await request(agent, port, '/again');
    expect(again.socketReused).toBe(true);
    expect(drainer.stats()).toMatchObject({ accepted: 2, open: 1, drained: 1 });
  });

  it('signalFor(req) aborts when the connection starts draining', async () => {
    let drainer!: Drainer;
    const reasons: unknown[] = [];
    ({ drainer } = await serve((req, res) => {
      const signal = drainer.signalFor(req);
      signal.addEventListener('abort', () => {
        reasons.push(signal.reason);
        res.end('bye');
      });
      res.write('streaming\n');
    }));
    const port = (drainer.server.address() as { port: number }).port;
    const c = await client(port);
    c.write(get('/stream'));
    await c.waitFor((d) => d.includes('streaming'));
    const result = await drainer.drainConnection(drainer.connections()[0]!.id);
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ name: 'DrainError', code: 'ERR_DRAIN_CONNECTION_DRAINING' });
    expect(() => drainer.signalFor(42)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
  });
});

describe('attaching to a server that already has connections', () => {
  it('adopts a keep-alive connection opened before createDrainer on its next request', async () => {
    const server = http.createServer((req, res) => res.end(`ok ${req.url}`));
    const port = await listen(server);
    let drainer: Drainer | undefined;
    cleanups.push(async () => {
      drainer?.dispose();
      await closeServer(server);
    });
    const c = await client(port);
    c.write(get('/before'));
    await c.waitFor((d) => d.includes('ok /before'));
    drainer = createDrainer(server);
    expect(drainer.connections()).toEqual([]);
    c.write(get('/after'));
    await c.waitFor((d) => d.includes('ok /after'));
    const [adopted] = drainer.connections();
    expect(adopted).toMatchObject({ protocol: 'http/1.1', requestsServed: 1, remotePort: c.socket.localPort });
    await until(() => adopted!.state === 'idle');
    const result = await drainer.drainConnection(adopted!.id);
    await c.closed;
    expect(result.forced).toBe(false);
    expect(c.ended).toBe(true);
    expect(drainer.stats()).toMatchObject({ accepted: 1, closed: 1, open: 0 });
  });
});
