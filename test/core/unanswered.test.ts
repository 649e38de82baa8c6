import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { channelNames, createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions, UnansweredMessage } from '@drainkit/core';
import { closeServer, get, listen, RawClient, until } from '../helpers/net.js';

// Issue 16 items 2 and 6, issue 12 item 2: a request that reached drainkit and
// was never answered is counted (stats().unanswered, drainkit:request:unanswered,
// the DrainResult while the connection still has one), and a socket lingering
// after drainkit's FIN reads and discards without parsing.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: DrainerOptions = {}) {
  const handled: string[] = [];
  let releaseSlow: () => void = () => undefined;
  const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
  const server = http.createServer((req, res) => {
    handled.push(req.url ?? '');
    if (req.url === '/slow') void slow.then(() => res.end('done /slow'));
    else res.end(`ok ${req.url}`);
  });
  const drainer: Drainer = createDrainer(server, options);
  const port = await listen(server);
  const messages: UnansweredMessage[] = [];
  const onMessage = (message: unknown) => messages.push(message as UnansweredMessage);
  diagnosticsChannel.subscribe(channelNames.requestUnanswered, onMessage);
  cleanups.push(async () => {
    diagnosticsChannel.unsubscribe(channelNames.requestUnanswered, onMessage);
    releaseSlow();
    drainer.dispose();
    await closeServer(server);
  });
  return { server, drainer, port, handled, messages, releaseSlow };
}

async function client(port: number, allowHalfOpen = false): Promise<RawClient> {
  const c = await RawClient.connect(port, { allowHalfOpen });
  cleanups.push(() => c.destroy());
  return c;
}

describe('unanswered requests are counted', () => {
  it('a request written just as the drain of its idle connection starts is served with Connection: close, not dropped', async () => {
    // The FIN leaves on a later loop turn and libuv reads first: drainkit looks once
    // more after this turn's I/O before it ends an idle connection. Here the drain
    // starts inside a handler (poll phase) while the raced request already waits in
    // the same batch of readable sockets: before, it was read after end() and dropped.
    const f = await setup({ idleGraceMs: 0 });
    let draining: Promise<unknown> | undefined;
    let targetId = '';
    f.server.prependListener('request', (req) => {
      if (req.url === '/trigger') draining = f.drainer.drainConnection(targetId);
    });
    const c = await client(f.port);
    const trigger = await client(f.port);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections().length === 2 && f.drainer.connections()[0]?.state === 'idle');
    targetId = f.drainer.connections()[0]!.id;
    // One tick: both are in the server's receive buffers before its next poll.
    trigger.write(get('/trigger'));
    c.write(get('/raced'));
    await c.waitForEnd();
    const result = await draining;
    expect(f.handled).toEqual(['/a', '/trigger', '/raced']);
    expect(c.data).toContain('ok /raced');
    expect(c.data.toLowerCase()).toContain('connection: close');
    expect(result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 0 });
    expect(f.drainer.stats().unanswered).toBe(0);
  });

  it('counts requests that arrive after the FIN, discards them unparsed, and says so on drainkit:request:unanswered', async () => {
    const f = await setup({ idleGraceMs: 0, lingerMs: 2_000 });
    // allowHalfOpen: this client keeps writing after it has seen the server's FIN.
    const c = await client(f.port, true);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections()[0]?.state === 'idle');
    const id = f.drainer.connections()[0]!.id;
    const result = await f.drainer.drainConnection(id);
    await c.waitForEnd();
    expect(f.drainer.stats().lingering).toBe(1);
    c.write(get('/late1') + get('/late2') + get('/late3'));
    await until(() => f.drainer.stats().unanswered === 3, 2_000, 'three unanswered requests');
    expect(f.handled).toEqual(['/a']);
    expect(result).toMatchObject({ completedRequests: 0, droppedRequests: 0 });
    expect(f.messages).toEqual([{ drainerId: f.drainer.drainerId, connectionId: id, where: 'after-fin', requests: 3, bytes: 3 * get('/late1').length }]);
    c.socket.end();
    await c.closed;
    await until(() => f.drainer.stats().lingering === 0, 2_000, 'the lingering socket to close');
  });

  it('a lingering socket does not parse: 20,000 pipelined requests after the FIN start no handler (the parser is never fed)', async () => {
    const f = await setup({ idleGraceMs: 0, lingerMs: 5_000 });
    const c = await client(f.port, true);
    c.write(get('/a'));
    await c.waitFor((d) => d.includes('ok /a'));
    await until(() => f.drainer.connections()[0]?.state === 'idle');
    await f.drainer.drainConnection(f.drainer.connections()[0]!.id);
    await c.waitForEnd();
    const batch = get('/x').repeat(1_000);
    for (let i = 0; i < 20; i++) c.write(batch);
    await until(() => f.drainer.stats().unanswered >= 20_000, 5_000, '20,000 unanswered requests');
    expect(f.drainer.stats().unanswered).toBe(20_000);
    expect(f.handled).toEqual(['/a']);
    // Destroying it is cheap: nothing is queued behind it.
    const startedAt = performance.now();
    c.destroy();
    await until(() => f.drainer.stats().lingering === 0, 2_000, 'the lingering socket to close');
    expect(performance.now() - startedAt).toBeLessThan(1_000);
  });

  it('a request pipelined behind the response a drain waits for is counted in the DrainResult and in stats()', async () => {
    const f = await setup();
    const c = await client(f.port);
    // One write: both are read with /slow (and held behind it) before the drain starts.
    c.write(get('/slow') + get('/behind1') + get('/behind2'));
    await until(() => f.handled.length === 1);
    const id = f.drainer.connections()[0]!.id;
    const draining = f.drainer.drainConnection(id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    f.releaseSlow();
    const result = await draining;
    expect(f.handled).toEqual(['/slow']);
    expect(result).toMatchObject({ completedRequests: 1, droppedRequests: 2 });
    expect(f.drainer.stats().unanswered).toBe(2);
    expect(f.messages).toMatchObject([{ connectionId: id, where: 'held', requests: 2 }]);
  });

  it('requests written once the drain began are read only after the FIN (the draining socket stops reading): counted after-fin', async () => {
    const f = await setup({ lingerMs: 5_000, idleGraceMs: 10_000 });
    const c = await client(f.port);
    c.write(get('/slow'));
    await until(() => f.handled.length === 1);
    const id = f.drainer.connections()[0]!.id;
    const draining = f.drainer.drainConnection(id);
    c.write(get('/behind1') + get('/behind2'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    f.releaseSlow();
    // The drain is over with the FIN, not at the operation's next timer (idleGraceMs later).
    const result = await draining;
    expect(result).toMatchObject({ completedRequests: 1, droppedRequests: 0 });
    expect(result.durationMs).toBeLessThan(5_000);
    await until(() => f.drainer.stats().unanswered === 2, 2_000, 'two unanswered requests');
    expect(f.handled).toEqual(['/slow']);
    expect(f.messages).toMatchObject([{ connectionId: id, where: 'after-fin', requests: 2 }]);
  });
});
