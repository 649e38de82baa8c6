import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { acceptQueueLengthAt } from '../../packages/core/src/accept-queue.js';

// The kernel's accept-queue length as listener-close.ts reads it (Linux /proc/net/tcp):
// a listener in another process that is busy (accepts nothing) while three clients connect.
const BUSY_LISTENER = `
const net = require('node:net');
const server = net.createServer((socket) => socket.destroy());
server.listen(0, '127.0.0.1', () => {
  console.log(server.address().port);
  // Busy until stdin closes: nothing is accepted meanwhile.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  process.stdin.once('data', () => {});
  const until = Date.now() + 3000;
  while (Date.now() < until) Atomics.wait(flag, 0, 0, 10);
  server.close();
});
`;

describe.runIf(process.platform === 'linux')('acceptQueueLengthAt (Linux)', () => {
  it('reads the number of connections the kernel queued and nobody accepted yet', async () => {
    const child = spawn(process.execPath, ['-e', BUSY_LISTENER], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
      const port = Number(chunk.toString().trim());
      const address = { address: '127.0.0.1', family: 'IPv4', port };
      expect(acceptQueueLengthAt(address)).toBe(0);
      const clients = [1, 2, 3].map(() => net.connect(port, '127.0.0.1'));
      try {
        // Connected means the handshake is done: each client sits in the accept queue.
        await Promise.all(clients.map((c) => once(c, 'connect')));
        expect(acceptQueueLengthAt(address)).toBe(3);
        // A port nobody listens on (any more) has no LISTEN line.
        const closed = net.createServer();
        await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
        const closedPort = (closed.address() as net.AddressInfo).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        expect(acceptQueueLengthAt({ ...address, port: closedPort })).toBeUndefined();
      } finally {
        for (const c of clients) c.destroy();
      }
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  });
});
