// Real clients through periodic drains (issue 16 item 5): Node's keep-alive
// http.Agent, Node's http2 client, undici and headless Chromium (playwright-core,
// Debian's /usr/bin/chromium), over HTTP/1.1 and HTTP/2 (TLS), against one
// drainkit server whose connections are all drained every `drainEveryMs`.
// Every request is counted at the client: ok, or lost (with why). No client-side
// retries beyond what the client library does by itself.
// Used by test/production/real-clients.test.ts and by soak/proxy/clients-run.mjs.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
const BODY = 'x'.repeat(128);

/** Half the responses stream: headers first, the end a few ms later (a busy connection whose headers are sent). */
function handler(req, res) {
  let size = 0;
  req.on('data', (c) => (size += c.length));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>clients</title>');
      return;
    }
    const ms = Number(url.searchParams.get('ms') ?? 0);
    const stream = url.searchParams.get('stream') === '1';
    res.setHeader('content-type', 'text/plain');
    res.setHeader('access-control-allow-origin', '*');
    if (stream) {
      res.writeHead(200);
      res.write('part;');
      setTimeout(() => res.end(`end ${size}`), ms);
    } else {
      setTimeout(() => res.end(`done ${size}`), ms);
    }
  });
}

export async function startServer({ protocol, createDrainer, drainerOptions = {}, tls }) {
  const server = protocol === 'h2' ? http2.createSecureServer({ ...tls, allowHTTP1: true }, handler) : http.createServer(handler);
  const drainer = createDrainer(server, drainerOptions);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return { server, drainer, origin: `${protocol === 'h2' ? 'https' : 'http'}://127.0.0.1:${port}`, port };
}

function newCounts() {
  return { requests: 0, ok: 0, lost: 0, why: {}, samples: [] };
}
function fail(counts, why) {
  counts.lost++;
  counts.why[why] = (counts.why[why] ?? 0) + 1;
  if (counts.samples.length < 5) counts.samples.push(why);
}
const target = (i) => {
  const ms = Math.floor(Math.random() * 4);
  return { method: i % 2 ? 'POST' : 'GET', path: `/work?ms=${ms}&stream=${(i >> 1) % 2}` };
};

/** Runs `loops` concurrent loops of `one(i)` until `until`; each call resolves true (ok) or a reason string. */
async function runLoops(counts, loops, ms, one) {
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: loops }, async (_, w) => {
      for (let i = w; Date.now() < until; i++) {
        counts.requests++;
        const outcome = await one(i);
        if (outcome === true) counts.ok++;
        else fail(counts, outcome);
      }
    }),
  );
}

// --------------------------------------------------------------- clients

async function nodeAgent({ origin, ms, loops }) {
  const counts = newCounts();
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  await runLoops(counts, loops, ms, (i) => {
    const t = target(i);
    return new Promise((resolve) => {
      const req = http.request(`${origin}${t.path}`, { method: t.method, agent, timeout: 10_000 });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve(`${t.method} ${e.code ?? e.message}`));
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('error', (e) => resolve(`${t.method} body ${e.code ?? e.message}`));
        res.on('end', () => resolve(res.statusCode === 200 && res.complete && body.includes(t.method === 'POST' ? String(BODY.length) : ' 0') ? true : `${t.method} status ${res.statusCode} ${body}`));
      });
      req.end(t.method === 'POST' ? BODY : undefined);
    });
  });
  agent.destroy();
  return counts;
}

/** Node's http2 client: one session, replaced once it receives a GOAWAY (as a pool would). */
async function nodeH2({ origin, ms, loops }) {
  const counts = newCounts();
  let session;
  const sessions = new Set();
  const get = () => {
    if (!session || session.closed || session.destroyed || session.goneAway) {
      session = http2.connect(origin, { rejectUnauthorized: false });
      sessions.add(session);
      const s = session;
      s.on('goaway', () => (s.goneAway = true));
      s.on('error', () => {});
      s.on('close', () => sessions.delete(s));
    }
    return session;
  };
  await runLoops(counts, loops, ms, async (i) => {
    const t = target(i);
    for (let attempt = 0; ; attempt++) {
      let stream;
      try {
        stream = get().request({ ':method': t.method, ':path': t.path });
      } catch (e) {
        // Node 20: request() after a GOAWAY throws; nothing was sent: a new session.
        if (e.code === 'ERR_HTTP2_GOAWAY_SESSION' && attempt < 3) {
          session.goneAway = true;
          continue;
        }
        return `${t.method} ${e.code}`;
      }
      const outcome = await new Promise((resolve) => {
        let body = '';
        let status = 0;
        stream.setEncoding('utf8');
        stream.on('response', (h) => (status = h[':status']));
        stream.on('data', (c) => (body += c));
        stream.on('error', (e) => resolve(`${t.method} ${e.code ?? e.message}${e.code === 'ERR_HTTP2_STREAM_ERROR' ? ` rst ${stream.rstCode}` : ''}`));
        stream.on('close', () => {
          if (status === 200 && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) resolve(true);
          else resolve(status ? `${t.method} status ${status} rst ${stream.rstCode}` : `${t.method} rst ${stream.rstCode}`);
        });
        stream.end(t.method === 'POST' ? BODY : undefined);
      });
      // Node 24: a request after a GOAWAY fails on its stream instead of throwing: never sent.
      if (typeof outcome === 'string' && outcome.endsWith('ERR_HTTP2_GOAWAY_SESSION') && attempt < 3) {
        session.goneAway = true;
        continue;
      }
      // REFUSED_STREAM (or above a GOAWAY's last stream id, which Node's client turns
      // into the same): not processed, safe to retry (RFC 9113 §8.7), as Chromium and
      // curl do by themselves. Node's http2 client does not; a pool on top of it must.
      if (typeof outcome === 'string' && outcome.endsWith(`rst ${http2.constants.NGHTTP2_REFUSED_STREAM}`) && attempt < 3) {
        counts.retriedRefused = (counts.retriedRefused ?? 0) + 1;
        continue;
      }
      return outcome;
    }
  });
  for (const s of sessions) s.close();
  return counts;
}

async function undiciClient({ origin, ms, loops, h2, undici }) {
  const counts = newCounts();
  const agent = new undici.Agent({ connections: loops, ...(h2 ? { allowH2: true, connect: { rejectUnauthorized: false } } : {}) });
  await runLoops(counts, loops, ms, async (i) => {
    const t = target(i);
    try {
      const res = await agent.request({ origin, path: t.path, method: t.method, body: t.method === 'POST' ? BODY : undefined, headersTimeout: 10_000, bodyTimeout: 10_000 });
      const text = await res.body.text();
      return res.statusCode === 200 && text.includes(t.method === 'POST' ? String(BODY.length) : ' 0') ? true : `${t.method} status ${res.statusCode}`;
    } catch (e) {
      return `${t.method} ${e.code ?? e.message}`;
    }
  });
  await agent.close().catch(() => agent.destroy());
  return counts;
}

async function chromiumClient({ origin, ms, loops, h2 }) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'drainkit-clients-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...(h2 ? [] : [])],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${origin}/`);
    const counts = await page.evaluate(
      async ({ loops, msLeft, body }) => {
        const until = Date.now() + msLeft;
        const counts = { requests: 0, ok: 0, lost: 0, why: {}, samples: [] };
        await Promise.all(
          Array.from({ length: loops }, async (_, w) => {
            for (let i = w; Date.now() < until; i++) {
              const method = i % 2 ? 'POST' : 'GET';
              counts.requests++;
              try {
                const res = await fetch(`/work?ms=${Math.floor(Math.random() * 4)}&stream=${(i >> 1) % 2}&i=${i}`, { method, body: method === 'POST' ? body : undefined, cache: 'no-store' });
                const text = await res.text();
                if (res.status === 200 && text.includes(method === 'POST' ? String(body.length) : ' 0')) counts.ok++;
                else throw new Error(`status ${res.status}`);
              } catch (e) {
                counts.lost++;
                const why = `${method} ${e.message}`;
                counts.why[why] = (counts.why[why] ?? 0) + 1;
                if (counts.samples.length < 5) counts.samples.push(why);
              }
            }
          }),
        );
        return counts;
      },
      { loops, msLeft: ms, body: BODY },
    );
    return counts;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * One run: a server with drainkit (`drainerOptions`), `client` over `protocol`
 * for `seconds`, `drain()` of every connection every `drainEveryMs`. Resolves the
 * client's counts, the drains, and drainkit's own unanswered count.
 */
export async function runClient({ client, protocol, seconds = 5, loops = 32, drainEveryMs = 250, createDrainer, drainerOptions, tls, undici }) {
  const ctx = await startServer({ protocol, createDrainer, drainerOptions, tls });
  let drains = 0;
  const pending = [];
  const timer = setInterval(() => {
    drains++;
    pending.push(ctx.drainer.drain(undefined, { reason: 'clients-soak' }));
  }, drainEveryMs);
  const h2 = protocol === 'h2';
  // Each client's loops run `seconds` from when the client is ready (a browser takes a while to start).
  const args = { origin: ctx.origin, ms: seconds * 1000, loops, h2, undici };
  let counts;
  try {
    if (client === 'agent') counts = h2 ? await nodeH2(args) : await nodeAgent(args);
    else if (client === 'undici') counts = await undiciClient(args);
    else if (client === 'chromium') counts = await chromiumClient(args);
    else throw new Error(`unknown client ${client}`);
  } finally {
    clearInterval(timer);
    await Promise.allSettled(pending);
    await ctx.drainer.shutdown({ timeoutMs: 2_000 });
    await ctx.drainer.socketsClosed?.();
  }
  const stats = ctx.drainer.stats();
  return { client, protocol, seconds, drains, ...counts, unanswered: stats.unanswered };
}
