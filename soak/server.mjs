// The soak server: node:http or node:http2 (h2c) with drainkit attached, handlers
// of random duration and SSE streams that end on drainer.signalFor(req).
import http from 'node:http';
import http2 from 'node:http2';
import { createDrainer } from '@drainkit/core';

export async function startSoakServer(protocol) {
  const counts = { handlersStarted: 0, handlersFinished: 0, closedUnfinished: 0, sseEndedBySignal: 0 };
  const drained = { results: 0, forced: 0, abortedRequests: 0, droppedRequests: 0, completedRequests: 0 };
  const timers = new Set();
  let drainer;

  const handler = (req, res) => {
    counts.handlersStarted++;
    let finished = false;
    res.on('finish', () => {
      finished = true;
      counts.handlersFinished++;
    });
    res.on('close', () => {
      if (!finished) counts.closedUnfinished++;
    });
    const url = new URL(req.url ?? '/', 'http://soak');
    if (url.pathname === '/sse') return sse(req, res, Number(url.searchParams.get('n') ?? 10));
    const body = `done ${req.url}`;
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, Number(url.searchParams.get('ms') ?? 0));
    timers.add(timer);
  };

  /** Server-sent events every 20 ms; the last event is written when done or when the drain signal aborts. */
  function sse(req, res, events) {
    const signal = drainer.signalFor(req);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    let sent = 0;
    const finish = () => {
      clearInterval(timer);
      timers.delete(timer);
      signal.removeEventListener('abort', onAbort);
      res.end('event: end\ndata: bye\n\n');
    };
    const onAbort = () => {
      counts.sseEndedBySignal++;
      finish();
    };
    const timer = setInterval(() => {
      res.write(`data: ${++sent}\n\n`);
      if (sent >= events) finish();
    }, 20);
    timers.add(timer);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
  }

  const server = protocol === 'h2' ? http2.createServer({ settings: { maxConcurrentStreams: 256 } }, handler) : http.createServer(handler);
  drainer = createDrainer(server, { timeoutMs: 5_000, lingerMs: 500 });
  drainer.on('connection:drained', (result) => {
    drained.results++;
    if (result.forced) drained.forced++;
    drained.abortedRequests += result.abortedRequests;
    drained.droppedRequests += result.droppedRequests;
    drained.completedRequests += result.completedRequests;
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    drainer,
    port: server.address().port,
    counts,
    drained,
    clearTimers() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
