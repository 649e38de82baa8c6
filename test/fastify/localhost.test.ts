import dns from 'node:dns';
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { extraBindings } from '../../packages/fastify/src/bindings.js';
import { get, until } from '../helpers/net.js';
import { startFastifyApp } from './fastify-kind.js';
import type { FastifyTestApp } from './fastify-kind.js';

const realLookup = dns.lookup;
let current: FastifyTestApp | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  (dns as { lookup: typeof dns.lookup }).lookup = realLookup;
  for (const socket of sockets.splice(0)) socket.destroy();
  current?.gate.release();
  await current?.app.close();
  current = undefined;
});

/** Can this machine listen on ::1 at all? */
async function ipv6Loopback(): Promise<boolean> {
  const probe = net.createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

// Fastify listening on 'localhost' opens one more server per extra address
// localhost resolves to (lib/server.js multipleBindings). Here localhost is made
// to resolve to 127.0.0.1 and ::1, as on most machines (this one's /etc/hosts has only the first).
it.runIf(await ipv6Loopback())('drains the extra server Fastify opens for ::1 when listening on localhost', async () => {
  (dns as { lookup: unknown }).lookup = (host: string, options: unknown, callback?: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean };
    if (host !== 'localhost') return (realLookup as (...args: unknown[]) => void)(host, options, callback);
    const all = [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
    if (opts.all) process.nextTick(cb, null, all);
    else process.nextTick(cb, null, '127.0.0.1', 4);
  };
  current = await startFastifyApp(5, 'http', {
    host: 'localhost',
    routes(app) {
      app.get('/whoami', async (request) => ({ id: request.drain.connection?.id ?? null }));
    },
  });
  const { app, port, gate } = current;
  const socket = net.connect({ port, host: '::1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject));
  let data = '';
  let ended = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('end', () => (ended = true));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  sockets.push(socket);

  socket.write(get('/whoami'));
  await until(() => data.includes('}'), 2_000, '/whoami');
  const { id } = JSON.parse(data.slice(data.indexOf('{'))) as { id: string | null };
  // Tracked, by a drainer of its own: not the one on app.server (127.0.0.1).
  expect(id).toMatch(/^\d+-\d+$/);
  expect(app.drainer.get(id!)).toBeUndefined();

  const started = gate.slowStarted();
  socket.write(get('/slow'));
  await started;
  const closing = app.close();
  // The shutdowns of both servers start together; each drain starts once its listener closed.
  await until(() => !app.drainer.isReady(), 2_000, 'the shutdown to start');
  await until(() => !app.server.listening && extraBindings(app).every((server) => !server.listening), 2_000, 'the listeners to close');
  gate.release();
  await closing;
  await closed;
  expect(ended).toBe(true);
  expect(data).toContain('slow done');
  expect(data.slice(data.lastIndexOf('HTTP/1.1'))).toMatch(/connection: close/i);
});
