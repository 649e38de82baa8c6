// drainkit + Fastify: a slow route, an SSE stream that ends on drain, readiness
// and liveness routes, drainAfterResponse(), and the admin API with its live page.
//
//   npm start                 (PORT=3000 by default; ADMIN_PASSWORD or a random one is printed)
//   open http://127.0.0.1:3000/admin   (user "admin")
//   kill -TERM <pid>          readiness fails, in-flight requests finish, connections close, app.close() hooks run
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import drainkit, { drainkitAdmin } from '@drainkit/fastify';
import Fastify from 'fastify';

const adminPassword = process.env.ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
const app = Fastify();

// The drainer is attached to app.server here, before anything listens. On
// SIGTERM/SIGINT the plugin drains, runs app.close() (so onClose hooks run) and exits.
await app.register(drainkit, {
  timeoutMs: Number(process.env.DRAIN_TIMEOUT_MS ?? 10_000),
  shutdownDelayMs: Number(process.env.SHUTDOWN_DELAY_MS ?? 0),
  readinessPath: '/ready',
  livenessPath: '/live',
  handleSignals: true,
});

app.get('/', async (_request, reply) => {
  reply.type('text/plain');
  return 'drainkit Fastify example: /slow?ms=2000, /events, /bye, /ready, /live, /admin\n';
});

// In flight when a drain starts: it finishes, then its connection closes.
app.get('/slow', async (request, reply) => {
  const ms = Math.min(Number(request.query.ms) || 2_000, 60_000);
  await sleep(ms);
  reply.type('text/plain');
  return `slow done after ${ms} ms`;
});

// Server-sent events: the drain signal tells the stream to say goodbye and end,
// so a drain does not have to wait for the deadline.
app.get('/events', (request, reply) => {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  let tick = 0;
  res.write(`data: {"tick":${tick}}\n\n`);
  const timer = setInterval(() => res.write(`data: {"tick":${++tick}}\n\n`), 1_000);
  const stop = () => clearInterval(timer);
  request.drain.signal.addEventListener(
    'abort',
    () => {
      stop();
      res.end(`event: drain\nretry: 1000\ndata: server is draining, reconnect\n\n`);
    },
    { once: true },
  );
  res.on('close', stop);
});

// Closes this client's connection once the response is sent (a logout, a rebalancing hint).
app.get('/bye', async (request, reply) => {
  void request.drain.drainAfterResponse({ reason: 'bye' });
  reply.type('text/plain');
  return `bye from connection ${request.drain.connection?.id}`;
});

// Basic auth, so a browser can open the page; compared in constant time.
const expected = Buffer.from(`Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}`);
await app.register(drainkitAdmin, {
  prefix: '/admin',
  authorize(request) {
    const given = Buffer.from(request.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  },
});

app.drainer.on('shutdown:phase', ({ phase, report }) => {
  console.log(report ? `shutdown: ${phase} (${report.closed} closed, ${report.forced} forced)` : `shutdown: ${phase}`);
});
// Runs after the drain, when app.close() finishes: close databases and queues here.
app.addHook('onClose', async () => console.log('app closed'));

await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
const { port } = app.server.address();
console.log(`admin page: http://127.0.0.1:${port}/admin (user "admin", password "${adminPassword}")`);
// One machine-readable line, for the test that starts this example.
console.log(JSON.stringify({ listening: `http://127.0.0.1:${port}`, port, pid: process.pid }));
