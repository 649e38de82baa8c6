// drainkit + Express: a slow route, an SSE stream that ends on drain, a
// readiness route, drainAfterResponse(), and the admin API with its live page.
//
//   npm start                 (PORT=3000 by default; ADMIN_PASSWORD or a random one is printed)
//   open http://127.0.0.1:3000/admin   (user "admin")
//   kill -TERM <pid>          readiness fails, in-flight requests finish, connections close
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminRouter, attach, readiness } from '@drainkit/express';
import express from 'express';

const adminPassword = process.env.ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
const app = express();

app.get('/', (_req, res) => {
  res.type('text').send('drainkit Express example: /slow?ms=2000, /events, /bye, /ready, /admin\n');
});

// In flight when a drain starts: it finishes, then its connection closes.
app.get('/slow', async (req, res) => {
  const ms = Math.min(Number(req.query.ms) || 2_000, 60_000);
  await sleep(ms);
  res.type('text').send(`slow done after ${ms} ms`);
});

// Server-sent events: the drain signal tells the stream to say goodbye and end,
// so a drain does not have to wait for the deadline.
app.get('/events', (req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  let tick = 0;
  res.write(`data: {"tick":${tick}}\n\n`);
  const timer = setInterval(() => res.write(`data: {"tick":${++tick}}\n\n`), 1_000);
  const { signal } = req.drain;
  const stop = () => clearInterval(timer);
  signal.addEventListener(
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
app.get('/bye', (req, res) => {
  void req.drain.drainAfterResponse({ reason: 'bye' });
  res.type('text').send(`bye from connection ${req.drain.connection?.id}`);
});

// For the load balancer / Kubernetes readiness probe: 503 from the moment shutdown starts.
app.get('/ready', readiness());

// Basic auth, so a browser can open the page; compared in constant time.
const expected = Buffer.from(`Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}`);
app.use(
  '/admin',
  adminRouter({
    authorize(req) {
      const given = Buffer.from(req.headers.authorization ?? '');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  }),
);

const { drainer, listening } = attach(app, {
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  timeoutMs: Number(process.env.DRAIN_TIMEOUT_MS ?? 10_000),
  shutdownDelayMs: Number(process.env.SHUTDOWN_DELAY_MS ?? 0),
});

drainer.on('shutdown:phase', ({ phase, report }) => {
  console.log(report ? `shutdown: ${phase} (${report.closed} closed, ${report.forced} forced)` : `shutdown: ${phase}`);
});

// SIGTERM / SIGINT: readiness fails, in-flight requests finish, every connection
// closes, then the process exits (0 when nothing was forced); a second signal forces.
drainer.handleSignals();

const { port } = await listening;
console.log(`admin page: http://127.0.0.1:${port}/admin (user "admin", password "${adminPassword}")`);
// One machine-readable line, for the test that starts this example.
console.log(JSON.stringify({ listening: `http://127.0.0.1:${port}`, port, pid: process.pid }));
