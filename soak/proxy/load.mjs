// The proxy soak's load: `clients` keep-alive loops through one http.Agent, half
// GET, half POST, no retries. Every outcome is counted, per method:
// ok (2xx), e502, e503, e5xx (other 5xx), reset (ECONNRESET / socket hang up),
// refused, hang (no answer within REQUEST_TIMEOUT_MS), other. Bounded in count and time.
import http from 'node:http';

const REQUEST_TIMEOUT_MS = 15_000;
const BODY = Buffer.alloc(256, 'p');
const OUTCOMES = ['ok', 'e502', 'e503', 'e5xx', 'reset', 'refused', 'hang', 'other'];

export const lost = (c) => OUTCOMES.filter((k) => k !== 'ok').reduce((n, k) => n + c.GET[k] + c.POST[k], 0);

/** `onOutcome(method, kind, detail, startedAt)`, when given, hears every outcome (restart-ab.mjs attributes failures to restarts). */
export function startLoad({ port, clients = 64, maxRequests = 1_000_000, durationMs = 120_000, maxHandlerMs = 5, onOutcome }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const counts = { GET: Object.fromEntries(OUTCOMES.map((k) => [k, 0])), POST: Object.fromEntries(OUTCOMES.map((k) => [k, 0])), samples: [] };
  let requests = 0;
  let stopping = false;
  const stopAt = Date.now() + durationMs;

  const one = (method) =>
    new Promise((resolve) => {
      const ms = Math.floor(Math.random() * (maxHandlerMs + 1));
      const req = http.request({ host: '127.0.0.1', port, method, path: `/work?ms=${ms}`, agent, timeout: REQUEST_TIMEOUT_MS });
      let settled = false;
      const startedAt = Date.now();
      const done = (kind, detail) => {
        if (settled) return;
        settled = true;
        counts[method][kind]++;
        onOutcome?.(method, kind, detail, startedAt);
        if (kind !== 'ok' && counts.samples.length < 8) counts.samples.push(`${method} ${kind} ${detail ?? ''}`.trim());
        resolve();
      };
      req.on('timeout', () => {
        done('hang');
        req.destroy();
      });
      req.on('error', (error) => {
        const code = error.code ?? error.message;
        done(code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : code === 'ECONNREFUSED' ? 'refused' : 'other', code);
      });
      req.on('response', (res) => {
        res.resume();
        res.on('error', () => done('other', 'response error'));
        // Closed before its end without an error (no 'aborted' error on some paths): still an outcome.
        res.on('close', () => done('other', 'response closed before its end'));
        res.on('end', () => {
          const s = res.statusCode;
          if (s >= 200 && s < 300) done(res.complete ? 'ok' : 'other', 'incomplete');
          else done(s === 502 ? 'e502' : s === 503 ? 'e503' : s >= 500 ? 'e5xx' : 'other', `status ${s}`);
        });
      });
      if (method === 'POST') {
        req.setHeader('content-type', 'application/octet-stream');
        req.setHeader('content-length', BODY.length);
        req.end(BODY);
      } else req.end();
    });

  const loop = async (worker) => {
    let turn = worker;
    while (!stopping && requests < maxRequests && Date.now() < stopAt) {
      requests++;
      await one(turn++ % 2 === 0 ? 'GET' : 'POST');
    }
  };
  const loops = Promise.all(Array.from({ length: clients }, (_, i) => loop(i)));
  return {
    counts,
    requests: () => requests,
    async stop() {
      stopping = true;
      // Every request settles within REQUEST_TIMEOUT_MS; bounded anyway, so a stuck one cannot hold the run.
      let timer;
      const late = new Promise((resolve) => {
        timer = setTimeout(resolve, REQUEST_TIMEOUT_MS + 5_000);
      });
      await Promise.race([loops, late]);
      clearTimeout(timer);
      agent.destroy();
      return counts;
    },
  };
}
