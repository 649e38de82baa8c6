import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { acceptQueueReader, acceptQueueReaderAt } from '../../packages/core/src/accept-queue.js';
import { closeServer, listen } from '../helpers/net.js';

// The kernel's accept-queue length as listener-close.ts reads it (Linux /proc/net/tcp):
// a listener in another process that is busy (accepts nothing) while three clients connect.
const BUSY_LISTENER = `
const net = require('node:net');
const server = net.createServer((socket) => socket.destroy());
server.listen(0, '127.0.0.1', () => {
  console.log(server.address().port);
  // Busy for 3 s: nothing is accepted meanwhile.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + 3000;
  while (Date.now() < until) Atomics.wait(flag, 0, 0, 10);
  server.close();
});
`;

describe.runIf(process.platform === 'linux')('accept-queue reader (Linux)', () => {
  it('reads the number of connections the kernel queued and nobody accepted yet, again and again', async () => {
    const child = spawn(process.execPath, ['-e', BUSY_LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
      const port = Number(chunk.toString().trim());
      const reader = acceptQueueReaderAt({ family: 'IPv4', port });
      expect(reader).toBeDefined();
      try {
        expect(reader!.read()).toEqual({ queued: 0, handshakes: 0 });
        const clients = [1, 2, 3].map(() => net.connect(port, '127.0.0.1'));
        try {
          // Connected means the handshake is done: each client sits in the accept queue.
          await Promise.all(clients.map((c) => once(c, 'connect')));
          // Queued connections are not handshakes under way (each holds the listener as one does).
          expect(reader!.read()).toEqual({ queued: 3, handshakes: 0 });
          expect(reader!.read()).toEqual({ queued: 3, handshakes: 0 }); // the same open file, read from its start again
        } finally {
          for (const c of clients) c.destroy();
        }
      } finally {
        reader!.dispose();
      }
      expect(reader!.read()).toBeUndefined(); // disposed
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  });

  it("finds this process's own listener by its socket's inode; no reader for a port nobody listens on", async () => {
    const server = net.createServer();
    const port = await listen(server);
    const reader = acceptQueueReader(server);
    expect(reader?.read()).toEqual({ queued: 0, handshakes: 0 });
    reader?.dispose();
    await closeServer(server);
    expect(acceptQueueReaderAt({ family: 'IPv4', port })).toBeUndefined();
    expect(acceptQueueReader(server)).toBeUndefined(); // not listening: no address
  });

  it('keeps finding its line while other listeners come and go and its own line grows (reads stop at the line)', async () => {
    const server = net.createServer();
    await listen(server);
    (server as unknown as { _handle: { listen(n: number): number } })._handle.listen(511);
    const reader = acceptQueueReader(server)!;
    const others: net.Server[] = [];
    const clients: net.Socket[] = [];
    try {
      expect({ ...reader.read() }).toEqual({ queued: 0, handshakes: 0 });
      // Twenty more listeners: lines before and after ours, in the kernel's hash order.
      for (let i = 0; i < 20; i++) {
        const other = net.createServer();
        await listen(other);
        others.push(other);
      }
      expect({ ...reader.read() }).toEqual({ queued: 0, handshakes: 0 });
      // Twelve queued connections: the refcount field gains a digit (12 + 1), the line a byte.
      // Connected without a poll phase in between, so none is accepted meanwhile.
      const port = (server.address() as net.AddressInfo).port;
      for (let i = 0; i < 12; i++) clients.push(net.connect(port, '127.0.0.1'));
      await new Promise<void>((resolve) => process.nextTick(resolve));
      expect({ ...reader.read() }).toEqual({ queued: 12, handshakes: 0 });
      for (const other of others.splice(0, 15)) await closeServer(other);
      // Found again after lines before it went away (meanwhile Node may have accepted some).
      const after = reader.read();
      expect(after).toBeDefined();
      expect(after!.queued).toBeLessThanOrEqual(12);
    } finally {
      reader.dispose();
      for (const c of clients) c.destroy();
      for (const other of others) await closeServer(other);
      await closeServer(server);
    }
  });
});
