// The server side of soak/hostile.mjs: bare node:http(2) or the same server
// with drainkit attached, driven over IPC by the hostile client in the parent.
// Run with --expose-gc: heap figures are read after a full collection.
// Usage (by soak/hostile.mjs): node --expose-gc soak/hostile-server.mjs <bare|drainkit> <h1|h2|h2tls> <lingerMs>
// (h2tls: the key and certificate in HOSTILE_TLS_KEY / HOSTILE_TLS_CERT; HOSTILE_COUNT_TIMERS=1: count live timers.)
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDrainer } from '@drainkit/core';

const [mode, protocol, lingerArg] = process.argv.slice(2);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
const withDrainkit = mode === 'drainkit';

/**
 * Timers alive now that were made through the global setTimeout / setInterval
 * (drainkit's all are), unref'd ones included: process.getActiveResourcesInfo()
 * lists only ref'd timers ('Timeout'), and drainkit unrefs its drain timers, so
 * that count alone would show none. Installed only when asked (case 5).
 */
const liveTimers = new Set();
const realSetTimeout = globalThis.setTimeout;
const realSetInterval = globalThis.setInterval;
const realClearTimeout = globalThis.clearTimeout;
const realClearInterval = globalThis.clearInterval;
if (process.env.HOSTILE_COUNT_TIMERS === '1') {
  globalThis.setTimeout = (fn, ms, ...args) => {
    const timer = realSetTimeout(
      (...a) => {
        liveTimers.delete(timer);
        return fn(...a);
      },
      ms,
      ...args,
    );
    liveTimers.add(timer);
    return timer;
  };
  globalThis.setInterval = (fn, ms, ...args) => {
    const timer = realSetInterval(fn, ms, ...args);
    liveTimers.add(timer);
    return timer;
  };
  globalThis.clearTimeout = (timer) => {
    liveTimers.delete(timer);
    return realClearTimeout(timer);
  };
  globalThis.clearInterval = (timer) => {
    liveTimers.delete(timer);
    return realClearInterval(timer);
  };
}
const activeTimeoutResources = () => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;

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

const server =
  protocol === 'h2tls'
    ? http2.createSecureServer({ key: process.env.HOSTILE_TLS_KEY, cert: process.env.HOSTILE_TLS_CERT }, handler)
    : protocol === 'h2'
      ? http2.createServer(handler)
      : http.createServer(handler);
const drainer = withDrainkit ? createDrainer(server, { lingerMs: Number(lingerArg), timeoutMs: 60_000 }) : undefined;

// HTTP/2 sessions open now, and how many opened in all (case 5).
const sessions = new Set();
let sessionsSeen = 0;
server.on('session', (session) => {
  sessionsSeen++;
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
  session.on('error', () => {});
});
/** The stop of case 5 in progress (stopH2), and its outcome once over. */
let stopping;

const sockets = new Set();
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

let baseline = 0;
let rssBaseline = 0;
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
    rssBaseline = process.memoryUsage.rss();
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
      // Resident memory, native (nghttp2, TLS) included; coarse (pages, allocator caches).
      rssGrowthMB: (process.memoryUsage.rss() - rssBaseline) / 2 ** 20,
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
  /** HTTP/2 sessions open now and opened in all. */
  sessions() {
    return { open: sessions.size, seen: sessionsSeen };
  },
  /**
   * Case 5: stops the server (`kind` 'shutdown') or drains every connection
   * (`kind` 'drain'), and returns at once; waitStopped() gives the outcome.
   * drainkit: shutdown() or drain(). Bare node:http2 has neither: server.close()
   * only stops accepting (it neither closes nor sends GOAWAY to an idle session,
   * and waits for every session: forever, for these), so its fair equivalent is
   * what an application has to do itself: server.close() and session.close() on
   * every session it recorded (GOAWAY, then the close once no stream is open:
   * at once here); for a drain, session.close() on every session open now.
   */
  stopH2({ kind }) {
    if (stopping) throw new Error('already stopping');
    const startedAt = performance.now();
    const cpuAtStart = process.cpuUsage();
    const targets = [...sessions];
    const seenAtStart = sessionsSeen;
    const timers = { liveBefore: liveTimers.size, resourcesBefore: activeTimeoutResources(), liveMax: 0, resourcesMax: 0, samples: 0, sampleMs: 0 };
    // getActiveResourcesInfo() lists every handle (each socket): its time is taken off the stop's CPU time.
    const sample = () => {
      const at = performance.now();
      timers.samples++;
      timers.liveMax = Math.max(timers.liveMax, liveTimers.size);
      timers.resourcesMax = Math.max(timers.resourcesMax, activeTimeoutResources());
      timers.sampleMs += performance.now() - at;
    };
    // Not through the counted globals, and unref'd: invisible to both counts.
    const sampler = realSetInterval(sample, 5);
    sampler.unref();
    let listenerClosedMs;
    // A session emits 'close' once it has ended its socket; the socket closes later (the client's FIN): both count.
    const closedAll = (emitters) => Promise.all(emitters.map((emitter) => (emitter.destroyed ? undefined : once(emitter, 'close'))));
    const socketsClosed = closedAll([...sockets]);
    let socketsClosedMs;
    void socketsClosed.then(() => (socketsClosedMs = performance.now() - startedAt));
    let done;
    if (drainer) {
      drainer.on('shutdown:phase', ({ phase }) => {
        if (phase === 'listener-closed') listenerClosedMs = performance.now() - startedAt;
      });
      done = kind === 'shutdown' ? drainer.shutdown() : drainer.drain(undefined, { reason: 'soak' });
    } else {
      if (kind === 'shutdown') {
        server.close();
        listenerClosedMs = performance.now() - startedAt;
      }
      for (const session of targets) session.close();
      done = Promise.all([closedAll(targets), socketsClosed]).then(() => undefined);
    }
    sample();
    stopping = done.then((report) => {
      const stopMs = performance.now() - startedAt;
      const { user, system } = process.cpuUsage(cpuAtStart);
      realClearInterval(sampler);
      sample();
      return {
        stopMs,
        listenerClosedMs,
        socketsClosedMs,
        cpuMs: Math.max(0, (user + system) / 1000 - timers.sampleMs),
        userCpuMs: user / 1000,
        systemCpuMs: system / 1000,
        targets: targets.length,
        // Sessions that opened after the stop began (accepted from the kernel's queue, or new ones during a drain).
        openedDuring: sessionsSeen - seenAtStart,
        openAfter: sessions.size,
        timers,
        report: report && {
          total: report.total,
          closed: report.closed,
          forced: report.forced,
          durationMs: report.durationMs,
          completedRequests: report.results.reduce((sum, r) => sum + r.completedRequests, 0),
          maxResultMs: report.results.reduce((max, r) => Math.max(max, r.durationMs), 0),
        },
      };
    });
    return { timersAtCall: liveTimers.size };
  },
  /** The outcome of stopH2. */
  async waitStopped() {
    if (!stopping) throw new Error('not stopping');
    return await stopping;
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
