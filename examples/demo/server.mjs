// The demo's application: a plain node:http server with three kinds of handler.
import http from 'node:http';

/**
 * GET /fast          answers at once.
 * GET /slow?ms=N     answers after N ms, unaware of any drain.
 * GET /work?finish=N long-running work that listens to drainkit's drain signal
 *                    (drainer.signalFor(req)) and wraps up N ms after it fires.
 * GET /never         never answers: a stuck handler, which only the deadline ends.
 */
export function createDemoServer({ getDrainer, onHandler }) {
  const calls = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    calls.push({ req, path: url.pathname });
    const finish = (body) => {
      if (res.destroyed) return;
      res.setHeader('content-type', 'text/plain');
      res.end(body);
      onHandler(req, 'finished', `${req.method} ${req.url} answered 200`);
    };
    switch (url.pathname) {
      case '/fast':
        finish('fast\n');
        return;
      case '/slow': {
        const ms = Number(url.searchParams.get('ms') ?? 500);
        onHandler(req, 'started', `handler started: ${req.method} ${req.url} (answers in ${ms} ms)`);
        setTimeout(() => finish('slow\n'), ms);
        return;
      }
      case '/work': {
        const ms = Number(url.searchParams.get('finish') ?? 300);
        onHandler(req, 'started', `handler started: ${req.method} ${req.url} (works until told to stop)`);
        const signal = getDrainer().signalFor(req);
        signal.addEventListener(
          'abort',
          () => {
            onHandler(req, 'signal', `handler got the drain signal (${signal.reason.code}): wrapping up in ${ms} ms`);
            setTimeout(() => finish('work done\n'), ms);
          },
          { once: true },
        );
        return;
      }
      case '/never':
        onHandler(req, 'started', `handler started: ${req.method} ${req.url} (will never answer)`);
        return;
      default:
        res.statusCode = 404;
        res.end();
    }
  });
  return { server, calls };
}
