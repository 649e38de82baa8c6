// One proxy-soak backend (a child process of soak/proxy/run.mjs): node:http on
// 127.0.0.1:$PORT with one shutdown variant. It tells the parent when it listens
// ({ ready }), drains on { cmd: 'drain' } and shuts down on SIGTERM, then exits.
//   drainkit        createDrainer(server) defaults + handleSignals() defaults
//   drainkit-grace  the same with idleGraceMs: 250
//   recipe          drainkit defaults + handleSignals({ shutdownDelayMs }) (the proxy health-checks /ready)
//   core            server.close() + server.closeIdleConnections(); closeAllConnections() after TIMEOUT_MS
//   terminator      http-terminator's terminate()
//   h2close         (PROTOCOL=h2c) Node's own session.close() on every HTTP/2 session, no drainkit
//   none            drain commands ignored (a baseline: what the proxy loses with no drain at all)
// PROTOCOL=h2c serves HTTP/2 without TLS (HAProxy `proto h2`); the default is HTTP/1.1.
import { writeSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

// DRAINKIT_CORE: another build of @drainkit/core's ESM entry (restart-ab.mjs compares listener-close variants).
const { createDrainer } = await import(process.env.DRAINKIT_CORE ?? '@drainkit/core');

const variant = process.env.VARIANT ?? 'drainkit';
const port = Number(process.env.PORT);
const name = process.env.NAME ?? 'backend';
const TIMEOUT_MS = 10_000;
const served = { requests: 0 };

// PROTOCOL=h2c: HTTP/2 without TLS (HAProxy's `proto h2` to its servers), the same handler through Node's compatibility API.
const protocol = process.env.PROTOCOL ?? 'http/1.1';
const createServer = protocol === 'h2c' ? http2.createServer : http.createServer;
const server = createServer((req, res) => {
  if (req.url === '/ready') {
    const ready = drainer ? drainer.isReady() : server.listening;
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end(ready ? 'ready' : 'draining');
    return;
  }
  let size = 0;
  req.on('data', (chunk) => (size += chunk.length));
  req.on('end', () => {
    const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 0);
    setTimeout(() => {
      served.requests++;
      const body = `${name} ${req.method} ${size}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, ms);
  });
});
// Longer than the proxies' upstream idle timeouts, so Node never closes an idle
// pooled connection under the proxy (a race of its own, not a drain's).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

let drainer;
const unanswered = () => (drainer ? drainer.stats().unanswered : undefined);
// One JSON line on stdout, written synchronously: it survives the process.exit that follows.
let listenerTrace;
const report = (extra) =>
  writeSync(1, `${JSON.stringify({ name, served: served.requests, unanswered: unanswered(), ...(listenerTrace ? { listenerTrace } : {}), ...extra })}\n`);

if (variant === 'drainkit' || variant === 'drainkit-grace' || variant === 'recipe') {
  const options = variant === 'drainkit-grace' ? { idleGraceMs: 250 } : {};
  drainer = createDrainer(server, options);
  const shutdownDelayMs = variant === 'recipe' ? Number(process.env.SHUTDOWN_DELAY_MS ?? 1_500) : undefined;
  drainer.handleSignals({
    ...(shutdownDelayMs !== undefined ? { shutdownDelayMs } : {}),
    onDone: (outcome) => report({ shutdown: { clean: outcome.clean, exitCode: outcome.exitCode, report: summary(outcome.report) } }),
  });
} else if (variant === 'core') {
  process.once('SIGTERM', () => {
    const force = setTimeout(() => server.closeAllConnections(), TIMEOUT_MS);
    server.close(() => {
      clearTimeout(force);
      report({ shutdown: { clean: true } });
      process.exit(0);
    });
    server.closeIdleConnections();
  });
} else if (variant === 'terminator') {
  const { createHttpTerminator } = await import('http-terminator');
  const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: TIMEOUT_MS });
  process.once('SIGTERM', async () => {
    await terminator.terminate();
    report({ shutdown: { clean: true } });
    process.exit(0);
  });
} else if (variant === 'h2close') {
  // HTTP/2 (PROTOCOL=h2c) without drainkit: Node's own graceful session.close() on every session.
  const sessions = new Set();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  process.on('message', (message) => {
    if (message?.cmd === 'drain') for (const session of sessions) session.close();
  });
  process.once('SIGTERM', () => {
    server.close(() => {
      report({ shutdown: { clean: true } });
      process.exit(0);
    });
    for (const session of sessions) session.close();
  });
} else if (variant === 'none') {
  // No drain at all (a baseline for the drain scenario): drain commands are ignored.
  process.once('SIGTERM', () => process.exit(0));
} else {
  throw new Error(`unknown VARIANT ${variant}`);
}

function summary(r) {
  return r && { total: r.total, forced: r.forced, droppedRequests: r.results?.reduce((n, x) => n + (x.droppedRequests ?? 0), 0) };
}

process.on('message', async (message) => {
  if (message?.cmd !== 'drain') return;
  if (drainer) {
    const result = await drainer.drain(undefined, { reason: 'soak-proxy' });
    report({ drained: { total: result.total, forced: result.forced } });
  } else if (variant === 'core') {
    server.closeIdleConnections();
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(port, '127.0.0.1', () => {
  if (process.env.TRACE_LISTENER) traceListener();
  process.send?.({ ready: true, name, pid: process.pid });
});

/**
 * TRACE_LISTENER: the final report line carries, in epoch ms (µs precision), when
 * SIGTERM came, when the backlog was changed (handle.listen) and when the listener
 * closed (handle.close), how many connections were accepted after SIGTERM, and
 * how many plugs the listener's close made (one when the first sealed its queue).
 */
function traceListener() {
  const now = () => performance.timeOrigin + performance.now();
  const trace = { sigterm: undefined, listen: [], close: undefined, acceptedAfterSigterm: 0, acceptedAfterClose: 0, plugs: 0 };
  const handle = server._handle;
  const listen = handle.listen;
  handle.listen = function (backlog) {
    trace.listen.push([now(), backlog]);
    return listen.call(this, backlog);
  };
  const close = handle.close;
  handle.close = function (...args) {
    trace.close = now();
    return close.apply(this, args);
  };
  // The listener's own plugs (connections to its port after SIGTERM: accept-queue-plug.ts).
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    if (trace.sigterm !== undefined && args[0]?.port === port) trace.plugs++;
    return connect.apply(this, args);
  };
  process.prependListener('SIGTERM', () => (trace.sigterm = now()));
  server.prependListener('connection', () => {
    if (trace.sigterm !== undefined) trace.acceptedAfterSigterm++;
    if (trace.close !== undefined) trace.acceptedAfterClose++;
  });
  listenerTrace = trace;
}
