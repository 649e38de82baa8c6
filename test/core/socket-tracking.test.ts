import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import { get, listen, RawClient, until } from '../helpers/net.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';

// drainkit learns of a tracked socket's close through the socket's own emit, which it
// installs only once the socket is being destroyed (socket-tracking.ts): until then the
// socket's emit is EventEmitter's, as every other stream's is.

const { track } = cleanupAfterEach();

async function serve(onSocket?: (socket: Socket) => void) {
  const sockets: Socket[] = [];
  const server = http.createServer((_req, res) => res.end('ok'));
  if (onSocket) server.prependListener('connection', onSocket);
  server.on('connection', (socket: Socket) => sockets.push(socket));
  const drainer = createDrainer(server);
  track(server, drainer);
  const port = await listen(server);
  return { drainer, port, sockets };
}

describe('socket close tracking', () => {
  it("leaves an open socket's emit alone and sees its close, whichever side ends it", async () => {
    const { drainer, port, sockets } = await serve();
    const closed: string[] = [];
    drainer.on('connection:close', ({ connection }) => closed.push(connection.id));

    const byClient = await RawClient.connect(port);
    byClient.write(get('/'));
    await byClient.waitFor(() => byClient.responseCount === 1);
    const byServer = await RawClient.connect(port);
    byServer.write(get('/'));
    await byServer.waitFor(() => byServer.responseCount === 1);
    await until(() => drainer.connections().length === 2);
    for (const socket of sockets) expect(Object.hasOwn(socket, 'emit')).toBe(false);

    byClient.destroy();
    await until(() => closed.length === 1);
    sockets[1]!.destroy();
    await until(() => closed.length === 2);
    expect(drainer.connections()).toEqual([]);
  });

  it('sees the close of a socket whose emit someone else replaced before the drainer', async () => {
    const seen: string[] = [];
    const { drainer, port } = await serve((socket) => {
      const emit = socket.emit;
      socket.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
        if (event === 'close') seen.push('close');
        return emit.apply(this, [event, ...args] as Parameters<Socket['emit']>);
      } as Socket['emit'];
    });
    const client = await RawClient.connect(port);
    client.write(get('/'));
    await client.waitFor(() => client.responseCount === 1);
    await until(() => drainer.connections().length === 1);
    client.destroy();
    await until(() => drainer.connections().length === 0);
    expect(seen).toEqual(['close']);
  });

  it('dispose() leaves a socket without the own properties drainkit gave it', async () => {
    const { drainer, port, sockets } = await serve();
    const client = await RawClient.connect(port);
    client.write(get('/'));
    await client.waitFor(() => client.responseCount === 1);
    await until(() => drainer.connections().length === 1);
    const socket = sockets[0]!;
    drainer.dispose();
    expect(Object.hasOwn(socket, 'emit')).toBe(false);
    expect(Object.hasOwn(socket, '_destroy')).toBe(false);
    expect(socket.emit).toBe(EventEmitter.prototype.emit);
    client.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
  });
});
