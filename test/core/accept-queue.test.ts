import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDrainer } from '@drainkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../helpers/net.js';

// Issue 16: closing a listening socket resets the connections still in the
// kernel's accept queue; behind nginx that is a 502 for a POST nginx had already
// written. The client runs in another process, so that it connects and writes
// its request while this process is busy: the connection is queued by the
// kernel and not yet accepted by Node when shutdown() starts.
const CLIENT = `
const net = require('node:net');
const fs = require('node:fs');
const [port, marker] = process.argv.slice(1);
const socket = net.connect(Number(port), '127.0.0.1', () => {
  socket.write('POST /work HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 2\\r\\n\\r\\nhi', () => fs.writeFileSync(marker, 'written'));
});
let data = '';
socket.setEncoding('utf8');
socket.on('data', (chunk) => (data += chunk));
socket.on('error', (error) => { console.log('error ' + error.code); process.exit(0); });
socket.on('close', () => { console.log(data.split('\\r\\n')[0] + ' | ' + data.split('\\r\\n\\r\\n')[1]); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, 10000).unref();
`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Blocks this process until `marker` exists: meanwhile nothing here accepts a connection. */
function blockUntilExists(marker: string, timeoutMs: number): boolean {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) if (existsSync(marker)) return true;
  return false;
}

describe('shutdown() and the kernel accept queue', () => {
  it('a connection queued by the kernel (request written) when shutdown() starts is accepted and answered, not reset', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('served'));
    });
    const drainer = createDrainer(server);
    const port = await listen(server);
    const dir = mkdtempSync(join(tmpdir(), 'drainkit-accept-'));
    dirs.push(dir);
    const marker = join(dir, 'written');
    const child = spawn(process.execPath, ['-e', CLIENT, String(port), marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (output += chunk));
    const exited = once(child, 'exit');
    // Busy from here until the client has written its request on a connection this process never accepted.
    expect(blockUntilExists(marker, 15_000)).toBe(true);
    const report = drainer.shutdown();
    expect(server.listening).toBe(true); // not closed in this tick: the queue is accepted first
    await exited;
    expect(output.trim()).toBe('HTTP/1.1 200 OK | served');
    const result = await report;
    expect({ total: result.total, closed: result.closed, forced: result.forced }).toEqual({ total: 1, closed: 1, forced: 0 });
    expect(drainer.stats().unanswered).toBe(0);
    expect(server.listening).toBe(false);
    await closeServer(server);
  }, 30_000);

  it('shutdown() resolves with the listener closed, and later connections are refused', async () => {
    const server = http.createServer((req, res) => res.end('ok'));
    const drainer = createDrainer(server);
    const port = await listen(server);
    await drainer.shutdown();
    expect(server.listening).toBe(false);
    const socket = (await import('node:net')).connect(port, '127.0.0.1');
    const [error] = await once(socket, 'error');
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
