// The server side of soak/hostile.mjs: bare node:http(2) or the same server
// with drainkit attached, driven over IPC by the hostile client in the parent.
// Run with --expose-gc: heap figures are read after a full collection.
// Usage (by soak/hostile.mjs): node --expose-gc soak/hostile-server.mjs <bare|drainkit> <h1|h2> <lingerMs>
import http from 'node:http';
import http2 from 'node:http2';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDrainer } from '@drainkit/core';

const [mode, protocol, lingerArg] = process.argv.slice(2);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
const withDrainkit = mode === 'drainkit';

let handled = 0;
let released = false;
const waiting = [];
const counts = { abortListeners: 0 };

function handler(req, res) {
  handled++;
  const path = req.url ?? '/';
  if (path.startsWith('/slow')) {
    if (released) res.end('slow');
    else waiting.push(res);
    return;
  }
  if (path.startsWith('/sig')) {
    // The documented pattern: one abort listener per request, { once: true }.
    // Bare node:http has no drain signal: its fair equivalent is a signal of the request's own.
    const signal = withDrainkit ? drainer.signalFor(req) : new AbortController().signal;
    signal.addEventListener('abort', () => counts.abortListeners++, { once: true });
  }
  res.end('ok');
}

const server = protocol === 'h2' ? http2.createServer(handler) : http.createServer(handler);
const drainer = withDrainkit ? createDrainer(server, { lingerMs: Number(lingerArg), timeoutMs: 60_000 }) : undefined;

const sockets = new Set();
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

let baseline = 0;
let cpuAtMark = process.cpuUsage();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

function heapUsed() {
  // Two passes: the first may only queue finalizers (weak refs, FinalizationRegistry).
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

function openConnections() {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error ? -1 : count)));
}

/**
 * Our own forced collections (heapUsed) block the loop too, and their late
 * tick is recorded only after the command that ran them: let it be recorded,
 * then forget it, so that a block is the server's, not the measurement's
 * (two full GCs took 40-200 ms on a loaded 2-core machine).
 */
async function forgetOwnPause() {
  await new Promise((resolve) => setTimeout(resolve, 30));
  delay.reset();
}

const commands = {
  /** Baseline heap; resets the event-loop delay histogram. */
  async mark() {
    baseline = heapUsed();
    await forgetOwnPause();
    cpuAtMark = process.cpuUsage();
    return { heapMB: baseline / 2 ** 20 };
  },
  /** Bytes read so far on the open sockets: stops growing once the server has consumed all it will. */
  progress() {
    let bytesRead = 0;
    for (const socket of sockets) bytesRead += socket.bytesRead;
    return { bytesRead, handled };
  },
  /** Resets the event-loop delay histogram only. */
  resetDelay() {
    delay.reset();
    return {};
  },
  /** Heap growth since mark, and the longest block since mark or the last measure (the histogram restarts after it). */
  async measure() {
    // The histogram's max is the longest gap between two of its 10 ms ticks: the longest block. Read before our GC.
    const maxBlockMs = delay.max / 1e6;
    const heap = heapUsed();
    await forgetOwnPause();
    return {
      heapGrowthMB: (heap - baseline) / 2 ** 20,
      maxBlockMs,
      handled,
      // CPU time since mark (user + system): what the case cost, whatever else the machine was running.
      cpuMs: (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpuAtMark)),
      open: await openConnections(),
      abortListeners: counts.abortListeners,
      // drainkit: requests it counted as never answered (read after its FIN, or held behind a drain).
      unanswered: drainer?.stats().unanswered,
    };
  },
  release() {
    released = true;
    for (const res of waiting.splice(0)) res.end('slow');
    return {};
  },
  /** Drains every connection (drainkit), or Node's own equivalent: closeIdleConnections(). */
  drainAll() {
    if (drainer) void drainer.drain(undefined, { timeoutMs: 60_000, reason: 'soak' });
    else server.closeIdleConnections?.();
    return {};
  },
  /** `drainConnection` of the one open connection, `times` times in one go. */
  repeatDrain({ times }) {
    if (!drainer) return { skipped: true };
    const [connection] = drainer.connections();
    if (!connection) throw new Error('no connection to drain');
    const started = performance.now();
    for (let i = 0; i < times; i++) void drainer.drainConnection(connection.id, { timeoutMs: 60_000 - i });
    return { loopMs: performance.now() - started };
  },
  /** Resolves once no socket is open (or after `timeoutMs`). */
  async waitClosed({ timeoutMs }) {
    const started = Date.now();
    while ((await openConnections()) > 0) {
      if (Date.now() - started > timeoutMs) return { closed: false, waitedMs: Date.now() - started };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { closed: true, waitedMs: Date.now() - started };
  },
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    process.send({ id, ...(await commands[cmd](args ?? {})) });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => process.send({ ready: true, port: server.address().port }));
