import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { ConnectionInfo, Drainer } from '@drainkit/core';
import { closeServer, deferred, get, listen, RawClient, until } from '../helpers/net.js';
import { testCertificate } from '../helpers/tls.js';

interface Fixture {
  server: https.Server;
  drainer: Drainer;
  port: number;
  calls: string[];
  release: () => void;
  started: Promise<void>;
  /** What connectionOf(req) gave inside each handler. */
  seen: Array<ConnectionInfo | undefined>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<Fixture> {
  const calls: string[] = [];
  const seen: Array<ConnectionInfo | undefined> = [];
  const gate = deferred();
  const started = deferred();
  let drainer!: Drainer;
  const server = https.createServer(await testCertificate(), (req: IncomingMessage, res: ServerResponse) => {
    calls.push(req.url ?? '');
    seen.push(drainer.connectionOf(req));
    if (req.url === '/slow') {
      started.resolve();
      void gate.promise.then(() => res.end('done /slow'));
      return;
    }
    res.end(`ok ${req.url}`);
  });
  drainer = createDrainer(server);
  const port = await listen(server);
  cleanups.push(async () => {
    gate.resolve();
    drainer.dispose();
    await closeServer(server);
  });
  return { server, drainer, port, calls, seen, release: () => gate.resolve(), started: started.promise };
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port, { tls: true });
  cleanups.push(() => c.destroy());
  return c;
}

describe('https (HTTP/1.1 over TLS)', () => {
  it('tracks the TLSSocket from secureConnection: protocol http/1.1, secure, and req.socket finds it', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    const [conn] = f.drainer.connections();
    expect(conn).toMatchObject({ protocol: 'http/1.1', secure: true, requestsServed: 1, remotePort: c.socket.localPort });
    // The request's socket is the TLSSocket; tracking the raw socket from 'connection' would miss it.
    expect(f.seen).toEqual([conn]);
  });

  it('does not track a TCP connection before its TLS handshake completes', async () => {
    const f = await setup();
    const plain = net.connect(f.port, '127.0.0.1');
    cleanups.push(() => void plain.destroy());
    await new Promise((resolve) => plain.once('connect', resolve));
    const secured = await client(f.port);
    await until(() => f.drainer.connections().length === 1, 5_000, 'TLS connection tracked');
    expect(f.drainer.connections()[0]!.remotePort).toBe(secured.socket.localPort);
  });

  it('closes an idle TLS connection at once with a clean close (close_notify + FIN, no reset)', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections()[0]?.state === 'idle');
    const before = c.data.length;
    const result = await f.drainer.drainConnection(f.drainer.connections()[0]!.id);
    await c.closed;
    expect(result).toMatchObject({ forced: false, completedRequests: 0, protocol: 'http/1.1' });
    expect(c.ended).toBe(true);
    expect(c.error).toBeUndefined();
    expect(c.data.length).toBe(before);
  });

  it('lets an in-flight request finish with Connection: close over TLS', async () => {
    const f = await setup();
    const c = await client(f.port);
    c.write(get('/slow'));
    await f.started;
    const draining = f.drainer.drainConnection(f.drainer.connections()[0]!.id);
    f.release();
    const result = await draining;
    await c.closed;
    expect(c.data).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(c.data.toLowerCase()).toContain('connection: close');
    expect(c.data).toContain('done /slow');
    expect(c.ended).toBe(true);
    expect(c.error).toBeUndefined();
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
  });

  it('shutdown() serves keep-alive https.Agent clients to the end without a failed request', async () => {
    const f = await setup();
    const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 4 });
    cleanups.push(() => agent.destroy());
    const fetchOnce = (path: string): Promise<{ status: number; body: string; connection: string | undefined }> =>
      new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: f.port, path, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end();
      });
    await Promise.all([fetchOnce('/a'), fetchOnce('/b')]);
    const slow = fetchOnce('/slow');
    await f.started;
    const listenerClosed = new Promise<void>((resolve) => f.drainer.on('shutdown:phase', (e) => e.phase === 'listener-closed' && resolve()));
    const shutdown = f.drainer.shutdown({ timeoutMs: 5_000 });
    // The drain starts once the listener has closed: a response finishing after that says Connection: close.
    await listenerClosed;
    f.release();
    expect(await slow).toEqual({ status: 200, body: 'done /slow', connection: 'close' });
    const report = await shutdown;
    expect(report.forced).toBe(0);
    expect(report.total).toBeGreaterThanOrEqual(2);
    expect(f.drainer.stats().open).toBe(0);
  });
});
