// Walk-through: an HTTP/2 client and an HTTP/1.1 client talk to the server of
// server.mjs; while their requests are in flight the server shuts down, and
// every step is printed. Run with `npm start` (after `npm install` at the root, which builds the packages).
import http2 from 'node:http2';
import https from 'node:https';
import { startServer } from './server.mjs';

const t0 = Date.now();
const log = (line) => console.log(`${String(Date.now() - t0).padStart(5)} ms  ${line}`);

const { drainer, url } = await startServer({ port: 0, log });
log(`[server] listening on ${url}`);

// --- an HTTP/2 client (ALPN h2) -------------------------------------------
const session = http2.connect(url, { rejectUnauthorized: false }); // self-signed certificate
let lastGoaway = '';
session.on('goaway', (code, lastStreamID) => {
  // Node's server session repeats the final GOAWAY when the client answers with its own: print it once.
  if (`${code}/${lastStreamID}` === lastGoaway) return;
  lastGoaway = `${code}/${lastStreamID}`;
  const meaning = lastStreamID === 2 ** 31 - 1 ? '2^31-1: "stop opening streams"' : 'final: streams above it were not processed';
  log(`[h2 client] GOAWAY received: error code ${code}, last stream id ${lastStreamID} (${meaning})`);
});
session.on('close', () => log('[h2 client] session closed'));
session.on('error', (error) => log(`[h2 client] session error: ${error.code}`));

function h2get(path) {
  return new Promise((resolve) => {
    const refused = (error) => resolve(`refused before sending (${error.code}): safe to retry on a new connection`);
    // A request after GOAWAY is refused without being sent: Node 20 and 22 throw from
    // request(), Node 24 and later return a stream that errors with the same code.
    let stream;
    try {
      stream = session.request({ ':path': path });
    } catch (error) {
      refused(error);
      return;
    }
    let failed = false;
    stream.on('error', (error) => {
      failed = true;
      if (error.code === 'ERR_HTTP2_GOAWAY_SESSION') refused(error);
      else resolve(`stream error (${error.code})`);
    });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      body += chunk;
      if (path === '/events') log(`[h2 client] ${path} event: ${JSON.stringify(chunk)}`);
    });
    stream.on('close', () => {
      if (!failed) resolve(stream.rstCode ? `reset with code ${stream.rstCode}` : body.trim());
    });
    stream.end();
  });
}

// --- an HTTP/1.1 client over TLS (no ALPN: the server treats it as HTTP/1.1) --
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
function h1get(path) {
  return new Promise((resolve, reject) => {
    https
      .get(`${url}${path}`, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(`${body.trim()} [Connection: ${res.headers.connection}]`));
      })
      .on('error', reject);
  });
}

log(`[h2 client] ${await h2get('/')}`);
log(`[h1 client] ${await h1get('/')}`);

const slowH2 = h2get('/slow?ms=600');
const events = h2get('/events');
const slowH1 = h1get('/slow?ms=400');
// Wait until all three are in the handlers.
while (drainer.stats().inFlight < 3) await new Promise((resolve) => setTimeout(resolve, 10));
for (const c of drainer.connections()) log(`[server] ${c.id}: ${c.protocol}, ${c.inFlight} in flight, ${c.requestsServed} served`);

log('[server] shutdown() begins');
const report = drainer.shutdown({ timeoutMs: 5_000 });
// After the first GOAWAY the client opens no new stream on this session.
await new Promise((resolve) => session.once('goaway', resolve));
log(`[h2 client] new request after GOAWAY: ${await h2get('/')}`);

log(`[h2 client] /events ended: ${JSON.stringify(await events)}`);
log(`[h1 client] /slow: ${await slowH1}`);
log(`[h2 client] /slow: ${await slowH2}`);
const { total, closed, forced, durationMs } = await report;
log(`[server] shutdown finished: ${total} connection(s), ${closed} closed gracefully, ${forced} forced, ${durationMs} ms`);
agent.destroy();
session.destroy();
