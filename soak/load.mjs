// Soak load generator: its own process, keep-alive HTTP/1.1 clients or HTTP/2
// sessions with many concurrent streams, on 127.0.0.1, bounded in time and count.
// It counts every outcome; a request that fails before any response byte is
// retried once, as RFC 9112 §9.3.1 allows for idempotent requests; an HTTP/2
// stream refused with REFUSED_STREAM (never processed) up to twice more.
import http from 'node:http';
import http2 from 'node:http2';

const counts = {
  sent: 0, // attempts, retries included
  requests: 0, // logical requests (first attempts)
  complete: 0,
  truncated: 0,
  errorsBeforeBytes: 0,
  retriedOk: 0,
  /** Extra resends of a stream the server refused (REFUSED_STREAM: never processed), beyond the one retry. */
  refusedResent: 0,
  failedAfterRetry: 0,
  /** Retry refused because the listener had closed (shutdown): what a load balancer routes elsewhere. */
  refusedAfterShutdown: 0,
  errorsAfterBytes: 0,
  sseComplete: 0,
};
const samples = { truncated: [], afterBytes: [], failed: [] };
const note = (list, what) => list.length < 5 && list.push(what);

let stopping = false;
let listenerClosed = false;
let config;

const END_MARK = 'event: end\ndata: bye\n\n';

function pickPath(worker) {
  const ms = Math.floor(Math.random() * (config.maxHandlerMs + 1));
  if (config.sseRatio > 0 && Math.random() < config.sseRatio) return { path: `/sse?n=${5 + Math.floor(Math.random() * 30)}`, sse: true };
  return { path: `/work?ms=${ms}&w=${worker}`, sse: false };
}

/** Checks a finished body: plain responses echo their path, SSE streams end with the end event. */
function bodyOk(target, body) {
  return target.sse ? body.endsWith(END_MARK) : body === `done ${target.path}`;
}

// ------------------------------------------------------------------ HTTP/1.1

/** One attempt. Resolves { kind: 'complete' | 'truncated' | 'before' | 'after', code }. */
function h1Attempt(agent, target) {
  return new Promise((resolve) => {
    counts.sent++;
    let bytesAtStart = -1;
    let socketRef;
    let settled = false;
    const done = (outcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const req = http.request({ host: '127.0.0.1', port: config.port, path: target.path, agent });
    req.on('socket', (socket) => {
      socketRef = socket;
      bytesAtStart = socket.bytesRead;
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => done(res.complete && bodyOk(target, body) ? { kind: 'complete' } : { kind: 'truncated', code: `body ${JSON.stringify(body.slice(-40))}` }));
      res.on('aborted', () => done({ kind: 'truncated', code: 'aborted' }));
      res.on('error', (error) => done({ kind: 'truncated', code: error.code ?? error.message }));
    });
    req.on('error', (error) => {
      // A partly received response head counts as bytes received: never retried.
      const gotBytes = socketRef !== undefined && socketRef.bytesRead > bytesAtStart;
      done({ kind: gotBytes ? 'after' : 'before', code: error.code ?? error.message });
    });
    req.end();
  });
}

async function h1Worker(worker) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (!stopping && counts.requests < config.maxRequests) {
      await logical((target) => h1Attempt(agent, target), pickPath(worker));
      if (listenerClosed) break;
    }
  } finally {
    agent.destroy();
  }
}

/** A logical request: one attempt, and one retry if it failed before any response byte. */
async function logical(attempt, target) {
  counts.requests++;
  let outcome = await attempt(target);
  if (outcome.kind === 'before') {
    counts.errorsBeforeBytes++;
    outcome = await attempt(target);
    // REFUSED_STREAM (rst 7) says the server never processed the stream (RFC 9113
    // §8.7): clients such as gRPC and Chromium resend it. Under drains every
    // ~150 ms the one retry can land on another session that is being drained,
    // so a refused stream is resent up to twice more; any other failure is not.
    for (let extra = 0; extra < 2 && outcome.kind === 'before' && /rst 7$/.test(outcome.code ?? ''); extra++) {
      counts.refusedResent++;
      outcome = await attempt(target);
    }
    if (outcome.kind === 'complete') counts.retriedOk++;
    else if (outcome.kind === 'before') {
      if (outcome.code === 'ECONNREFUSED' && config.expectListenerClose) {
        counts.refusedAfterShutdown++;
        listenerClosed = true;
      } else {
        counts.failedAfterRetry++;
        note(samples.failed, `${target.path}: ${outcome.code}`);
      }
      return;
    }
  }
  if (outcome.kind === 'complete') {
    counts.complete++;
    if (target.sse) counts.sseComplete++;
  } else if (outcome.kind === 'truncated') {
    counts.truncated++;
    note(samples.truncated, `${target.path}: ${outcome.code}`);
  } else if (outcome.kind === 'after') {
    counts.errorsAfterBytes++;
    note(samples.afterBytes, `${target.path}: ${outcome.code}`);
  }
}

// ------------------------------------------------------------------ HTTP/2

/** A session that is replaced once the server sends GOAWAY or it closes. */
class SessionSlot {
  session = undefined;

  get() {
    if (!this.session || this.session.closed || this.session.destroyed || this.session.goneAway) {
      const session = http2.connect(`http://127.0.0.1:${config.port}`);
      session.goneAway = false;
      session.connectedOnce = false;
      session.closeEmitted = false;
      session.once('connect', () => (session.connectedOnce = true));
      session.once('close', () => (session.closeEmitted = true));
      session.setMaxListeners(0);
      session.on('goaway', () => (session.goneAway = true));
      // A refused connect shows on the streams only as a closed stream: remember why.
      session.on('error', (error) => (session.failure = error.code));
      this.session = session;
    }
    return this.session;
  }

  close() {
    this.session?.close();
  }
}

function h2Attempt(slot, target) {
  return new Promise((resolve) => {
    counts.sent++;
    let gotResponse = false;
    let body = '';
    let settled = false;
    const done = (outcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    let stream;
    let session;
    const failure = (code) => session?.failure ?? code;
    // A stream on a session that never connected fails before the session says why (e.g. ECONNREFUSED).
    const before = (code) => {
      if (session && !session.connectedOnce && !session.closeEmitted) session.once('close', () => done({ kind: 'before', code: failure(code) }));
      else done({ kind: 'before', code: failure(code) });
    };
    try {
      session = slot.get();
      stream = session.request({ ':path': target.path });
    } catch (error) {
      // ERR_HTTP2_GOAWAY_SESSION / INVALID_SESSION: nothing was sent.
      done({ kind: 'before', code: error.code });
      return;
    }
    stream.setEncoding('utf8');
    stream.on('response', () => (gotResponse = true));
    stream.on('data', (chunk) => (body += chunk));
    stream.on('end', () => {
      if (!gotResponse) done({ kind: 'before', code: 'no response' });
      else done(bodyOk(target, body) ? { kind: 'complete' } : { kind: 'truncated', code: `body ${JSON.stringify(body.slice(-40))}` });
    });
    stream.on('error', (error) => {
      if (gotResponse) done({ kind: 'after', code: error.code ?? error.message });
      else before(`${error.code ?? error.message} rst ${stream.rstCode}`);
    });
    stream.on('close', () => {
      // REFUSED_STREAM (RFC 9113 §8.7) and a stream above GOAWAY's last id: not processed, safe to retry.
      if (!gotResponse) before(`rst ${stream.rstCode}`);
      else done({ kind: 'truncated', code: `closed rst ${stream.rstCode}` });
    });
    stream.end();
  });
}

async function h2Worker(slot) {
  while (!stopping && counts.requests < config.maxRequests) {
    await logical((target) => h2Attempt(slot, target), pickPath(0));
    if (listenerClosed) break;
  }
}

// ------------------------------------------------------------------ control

process.on('message', async (message) => {
  if (message.cmd === 'stop') {
    stopping = true;
    return;
  }
  if (message.cmd !== 'start') return;
  config = message.config;
  const stopTimer = setTimeout(() => (stopping = true), config.durationMs);
  const workers = [];
  const slots = [];
  if (config.protocol === 'h2') {
    for (let s = 0; s < config.sessions; s++) {
      const slot = new SessionSlot();
      slots.push(slot);
      for (let k = 0; k < config.streamsPerSession; k++) workers.push(h2Worker(slot));
    }
  } else {
    for (let w = 0; w < config.clients; w++) workers.push(h1Worker(w));
  }
  await Promise.all(workers);
  clearTimeout(stopTimer);
  for (const slot of slots) slot.close();
  process.send({ done: true, counts, samples });
});
process.send({ ready: true });
