import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createDrainer } from '@drainkit/core';
import type { ConnectionInfo, Drainer } from '@drainkit/core';
import { closeServer, listen, until } from '../helpers/net.js';
import { testCertificate } from '../helpers/tls.js';

interface Fixture {
  server: http.Server | https.Server;
  drainer: Drainer;
  port: number;
  /** The server-side WebSocket of each upgraded socket, for the drain hook. */
  sockets: Map<Duplex, WebSocket>;
}

interface Client {
  ws: WebSocket;
  messages: string[];
  /** Close code and reason the client saw; 1006 means the socket ended without a close frame. */
  closed: Promise<{ code: number; reason: string }>;
  errors: Error[];
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(secure = false): Promise<Fixture> {
  const sockets = new Map<Duplex, WebSocket>();
  const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => void res.end('plain http');
  const server = secure ? https.createServer(await testCertificate(), handler) : http.createServer(handler);
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.set(socket, ws);
      ws.on('message', (data) => ws.send(`echo ${String(data)}`));
      ws.send('welcome');
    });
  });
  const drainer = createDrainer(server);
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    await closeServer(server);
  });
  return { server, drainer, port, sockets };
}

async function connect(f: Fixture, secure = false): Promise<Client> {
  const ws = new WebSocket(`${secure ? 'wss' : 'ws'}://127.0.0.1:${f.port}/`, { rejectUnauthorized: false });
  const client: Client = {
    ws,
    messages: [],
    errors: [],
    closed: new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
  };
  ws.on('message', (data) => client.messages.push(String(data)));
  ws.on('error', (error) => client.errors.push(error));
  cleanups.push(() => ws.terminate());
  await until(() => client.messages.includes('welcome'), 5_000, 'welcome message');
  return client;
}

function upgraded(f: Fixture): ConnectionInfo {
  const list = f.drainer.connections((c) => c.protocol === 'upgraded');
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe('upgraded (WebSocket) connections', () => {
  it('reports a connection whose request was upgraded as protocol upgraded, outside request tracking', async () => {
    const f = await setup();
    const c = await connect(f);
    c.ws.send('ping');
    await until(() => c.messages.includes('echo ping'));
    expect(upgraded(f).toJSON()).toMatchObject({ protocol: 'upgraded', secure: false, inFlight: 0, requestsServed: 1 });
  });

  it('calls onUpgradedDrain once; the client receives close 1001 before the socket ends; drained when the socket closes', async () => {
    const f = await setup();
    const c = await connect(f);
    const calls: Array<{ socket: Duplex; info: ConnectionInfo }> = [];
    f.drainer.onUpgradedDrain((socket, info) => {
      calls.push({ socket, info });
      f.sockets.get(socket)!.close(1001, 'going away');
    });
    const conn = upgraded(f);
    const first = f.drainer.drainConnection(conn.id);
    const second = f.drainer.drainConnection(conn.id);
    // 1006 would mean the socket ended without the close frame: 1001 proves the frame came first.
    expect(await c.closed).toEqual({ code: 1001, reason: 'going away' });
    const result = await first;
    expect(await second).toBe(result);
    expect(result).toMatchObject({ forced: false, protocol: 'upgraded', id: conn.id });
    expect(calls).toHaveLength(1);
    expect(f.sockets.has(calls[0]!.socket)).toBe(true);
    expect(calls[0]!.info.id).toBe(conn.id);
    expect(c.errors).toEqual([]);
    expect(f.drainer.get(conn.id)).toBeUndefined();
  });

  it('waits for the hook to wind the socket down: the drain is not over while the WebSocket is open', async () => {
    const f = await setup();
    const c = await connect(f);
    let closeLater: (() => void) | undefined;
    f.drainer.onUpgradedDrain((socket) => {
      closeLater = () => f.sockets.get(socket)!.close(1001, 'going away');
    });
    let settled = false;
    const draining = f.drainer.drainConnection(upgraded(f).id, { timeoutMs: 5_000 }).then((r) => {
      settled = true;
      return r;
    });
    await until(() => closeLater !== undefined);
    // The socket still carries messages while the application finishes its own close.
    c.ws.send('still here');
    await until(() => c.messages.includes('echo still here'));
    expect(settled).toBe(false);
    closeLater!();
    expect((await c.closed).code).toBe(1001);
    expect(await draining).toMatchObject({ forced: false });
  });

  it('destroys the socket at the deadline and reports forced when the hook leaves it open', async () => {
    const f = await setup();
    const c = await connect(f);
    let hookCalls = 0;
    f.drainer.onUpgradedDrain(() => void hookCalls++);
    const closes: boolean[] = [];
    f.drainer.on('connection:close', (event) => closes.push(event.forced));
    const result = await f.drainer.drainConnection(upgraded(f).id, { timeoutMs: 100 });
    expect(result).toMatchObject({ forced: true, protocol: 'upgraded' });
    expect(result.durationMs).toBeGreaterThanOrEqual(95);
    expect(hookCalls).toBe(1);
    expect(closes).toEqual([true]);
    expect((await c.closed).code).toBe(1006);
  });

  it('ends the socket at once without a hook', async () => {
    const f = await setup();
    const c = await connect(f);
    const startedAt = Date.now();
    const result = await f.drainer.drainConnection(upgraded(f).id, { timeoutMs: 5_000 });
    // No close frame was sent: the client sees the TCP connection end (1006), promptly and without an error.
    expect((await c.closed).code).toBe(1006);
    expect(result).toMatchObject({ forced: false, protocol: 'upgraded' });
    expect(Date.now() - startedAt).toBeLessThan(1_000);
  });

  it('shutdown() winds down WebSockets with the hook and plain connections alike', async () => {
    const f = await setup();
    const a = await connect(f);
    const b = await connect(f);
    f.drainer.onUpgradedDrain((socket) => f.sockets.get(socket)!.close(1001, 'going away'));
    const report = await f.drainer.shutdown({ timeoutMs: 5_000 });
    expect(report).toMatchObject({ total: 2, forced: 0 });
    expect(report.results.map((r) => r.protocol)).toEqual(['upgraded', 'upgraded']);
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
  });

  it('works the same for a WebSocket over TLS (wss)', async () => {
    const f = await setup(true);
    const c = await connect(f, true);
    expect(upgraded(f)).toMatchObject({ protocol: 'upgraded', secure: true });
    f.drainer.onUpgradedDrain((socket) => f.sockets.get(socket)!.close(1001, 'going away'));
    const result = await f.drainer.drainConnection(upgraded(f).id);
    expect(await c.closed).toEqual({ code: 1001, reason: 'going away' });
    expect(result).toMatchObject({ forced: false, protocol: 'upgraded' });
    expect(c.errors).toEqual([]);
  });

  it('rejects a hook that is not a function with ERR_DRAIN_INVALID_ARGUMENT', async () => {
    const f = await setup();
    expect(() => f.drainer.onUpgradedDrain('close' as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
  });
});
