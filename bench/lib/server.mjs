// One benchmark server process. argv[2] names the variant; commands arrive over IPC.
// It imports the BUILT packages (node_modules/@drainkit/core -> packages/core/dist).
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { createDrainer } from '@drainkit/core';

const variant = process.argv[2];
/** Wall clock shared by every process on the machine, with sub-millisecond resolution. */
const wallNow = () => performance.timeOrigin + performance.now();

let requests = 0;
// bench/instructions.mjs --minor-gc-every K (needs --expose-gc): a scavenge after every K-th
// request, so each window of a multiple of K requests holds the same number of scavenges
// (an Express server's natural ones, every ~400 requests, landed 2 or 3 to a 1,000-request window).
const MINOR_GC_EVERY = Number(process.env.DRAINKIT_BENCH_MINOR_GC_EVERY ?? 0);
function counted() {
  if (++requests % MINOR_GC_EVERY === 0) globalThis.gc({ type: 'minor' });
}
function tinyHandler(req, res) {
  counted();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
}

async function expressApp(middleware) {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  if (middleware) app.use(middleware);
  app.get('/', (req, res) => {
    counted();
    res.type('text/plain').send('ok');
  });
  return app;
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  app.use((ctx) => {
    counted();
    ctx.type = 'text/plain';
    ctx.body = 'ok';
  });
  return app;
}

/** attach() from an adapter package creates, attaches and listens itself; the port is its own. */
async function attached(pkg, app) {
  const { attach } = await import(pkg);
  const result = attach(app, { port: 0, host: '127.0.0.1' });
  await result.listening;
  return result;
}

/** A Fastify app whose server the common code below listens on; `withPlugin` registers @drainkit/fastify. */
async function fastifyServer(withPlugin) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (withPlugin) await app.register((await import('@drainkit/fastify')).default);
  app.get('/', (_request, reply) => {
    counted();
    reply.type('text/plain').send('ok');
  });
  await app.ready();
  return { server: app.server, drainer: withPlugin ? app.drainer : undefined };
}

let server;
let drainer;
let terminator;
let newestId;
switch (variant) {
  case 'bare':
  case 'node-core':
    server = http.createServer(tinyHandler);
    break;
  case 'drainkit':
    server = http.createServer(tinyHandler);
    drainer = createDrainer(server);
    break;
  case 'drainkit+noGrace':
    // The drain-cost measurement drains connections it has just used: without
    // idleGraceMs each drain would wait out the grace (1 s by default), by design.
    server = http.createServer(tinyHandler);
    drainer = createDrainer(server, { idleGraceMs: 0 });
    break;
  case 'express':
    server = http.createServer(await expressApp());
    break;
  case 'express+drainkit':
    server = http.createServer(await expressApp());
    drainer = createDrainer(server);
    break;
  case 'express+middleware': {
    // createDrainer() and app.use(drainMiddleware(drainer)), as the Express README shows.
    const { drainMiddleware } = await import('@drainkit/express');
    server = http.createServer();
    drainer = createDrainer(server);
    server.on('request', await expressApp(drainMiddleware(drainer)));
    break;
  }
  case 'express+noop':
    // app.use() of a middleware that only calls next(): what one Express layer costs.
    server = http.createServer(await expressApp((req, res, next) => next()));
    break;
  case 'express+attach':
    ({ server, drainer } = await attached('@drainkit/express', await expressApp()));
    break;
  case 'koa':
    server = http.createServer((await koaApp()).callback());
    break;
  case 'koa+attach':
    ({ server, drainer } = await attached('@drainkit/koa', await koaApp()));
    break;
  case 'fastify':
  case 'fastify+drainkit':
    ({ server, drainer } = await fastifyServer(variant === 'fastify+drainkit'));
    break;
  case 'http-terminator': {
    const { createHttpTerminator } = await import('http-terminator');
    server = http.createServer(tinyHandler);
    terminator = createHttpTerminator({ server, gracefulTerminationTimeout: 10_000 });
    break;
  }
  case 'stoppable': {
    const { default: stoppable } = await import('stoppable');
    server = stoppable(http.createServer(tinyHandler), 10_000);
    break;
  }
  default:
    throw new Error(`unknown variant ${variant}`);
}
// Idle connections must stay open however long the client takes to open 10,000 of them.
server.keepAliveTimeout = 0;
if (drainer) drainer.on('connection:open', ({ connection }) => (newestId = connection.id));

/** Each variant's way to stop: resolves when its own promise/callback says it is done. */
function stop() {
  if (drainer) return drainer.shutdown({ timeoutMs: 10_000 });
  switch (variant) {
    case 'http-terminator':
      return terminator.terminate();
    case 'stoppable':
      return new Promise((resolve, reject) => server.stop((error) => (error ? reject(error) : resolve())));
    default:
      // Node core: close() stops listening; closeIdleConnections() ends the keep-alive sockets.
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
  }
}

/** Bytes used in V8's old space: read outside the counted windows, it shows promotion per request and any old-generation collection (a drop). */
function oldSpaceUsed() {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
}

function settleHeap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/**
 * When each FIN left the server: every variant ends a connection through its TCP
 * handle's close() (libuv's close(2) inside the call: the FIN is sent there) or
 * shutdown() (stoppable's end(): libuv calls shutdown(2) on a later poll phase and
 * then the request's oncomplete, so that is when its FIN left). Wrapping both on
 * the TCP handles' prototype (the listener's handle is one) times the FIN train
 * inside the server, without the client process's stalls that move the
 * client-side figure. Installed just before the shutdown, the same way for every
 * variant; the listener's own close is left out, and a close() after a shutdown()
 * of the same handle is not a second FIN.
 */
function probeFins(countUntil = 0) {
  const fins = { calls: 0, first: 0, last: 0 };
  const sent = (at) => {
    if (fins.calls++ === 0) fins.first = at;
    fins.last = at;
  };
  // bench/shutdown-instructions.mjs: callgrind dumps its count at the last FIN (marker below).
  const counted = () => {
    if (fins.calls === countUntil) os.loadavg();
  };
  const listener = server._handle;
  const proto = Object.getPrototypeOf(listener);
  const shutDown = new WeakSet();
  const close = proto.close;
  proto.close = function (...args) {
    const fin = this !== listener && !shutDown.has(this);
    if (fin) sent(wallNow());
    const result = close.apply(this, args);
    if (fin) counted();
    return result;
  };
  const shutdown = proto.shutdown;
  proto.shutdown = function (req, ...rest) {
    shutDown.add(this);
    const oncomplete = req.oncomplete;
    req.oncomplete = function (...args) {
      sent(wallNow());
      counted();
      return oncomplete.apply(this, args);
    };
    return shutdown.call(this, req, ...rest);
  };
  return fins;
}

let cpuAtStart;
let requestsAtStart = 0;
process.on('message', async (message) => {
  const reply = (payload) => process.send({ id: message.id, ...payload });
  try {
    switch (message.cmd) {
      case 'cpu-start':
        cpuAtStart = process.cpuUsage();
        requestsAtStart = requests;
        reply({});
        break;
      case 'cpu-stop': {
        const cpu = process.cpuUsage(cpuAtStart);
        reply({ cpuMicros: cpu.user + cpu.system, requests: requests - requestsAtStart });
        break;
      }
      // Markers for callgrind (bench/instructions.mjs): --zero-before=uv_os_getpriority
      // --dump-before=uv_loadavg. Neither libuv function runs anywhere else in a server.
      case 'count-start': {
        const oldSpace = oldSpaceUsed();
        os.getPriority();
        reply({ requests, oldSpace });
        break;
      }
      case 'count-stop':
        os.loadavg();
        reply({ requests, oldSpace: oldSpaceUsed() });
        break;
      case 'heap':
        reply({ heapUsed: settleHeap(), open: drainer ? drainer.stats().open : undefined });
        break;
      case 'shutdown': {
        const fins = probeFins(message.countUntilFins ?? 0);
        const startedAt = wallNow();
        // bench/shutdown-instructions.mjs: callgrind zeroes its count here (marker: see 'count-start').
        if (message.countUntilFins) os.getPriority();
        await stop();
        const resolvedAt = wallNow();
        // drainkit resolves once every FIN is queued; its sockets then linger for the clients' FINs.
        // The other variants resolve only once every socket is closed.
        if (drainer) await drainer.socketsClosed();
        reply({ startedAt, resolvedAt, socketsClosedAt: wallNow(), firstFinAt: fins.first, lastFinAt: fins.last, finCalls: fins.calls });
        break;
      }
      case 'drain-newest': {
        // One drainConnection of the connection opened last (an idle keep-alive one).
        const id = newestId;
        const open = drainer.stats().open;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const pending = drainer.drainConnection(id, { timeoutMs: 5_000 });
        const t1 = performance.now();
        const result = await pending;
        const t2 = performance.now();
        const cpu = process.cpuUsage(cpu0);
        reply({ open, forced: result.forced, callMicros: (t1 - t0) * 1000, resolveMicros: (t2 - t0) * 1000, cpuMicros: cpu.user + cpu.system });
        break;
      }
      case 'exit':
        reply({});
        process.exit(0);
    }
  } catch (error) {
    reply({ error: String(error?.stack ?? error) });
  }
});

// If the runner dies, do not linger holding thousands of sockets.
process.on('disconnect', () => process.exit(0));
if (server.listening) process.send({ ready: true, port: server.address().port, node: process.version });
else {
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    process.send({ ready: true, port: server.address().port, node: process.version });
  });
}
