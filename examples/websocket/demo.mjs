// Walk-through: two WebSocket clients and one keep-alive HTTP client are
// connected when the server shuts down; every step is printed.
// Run with `npm start` (after `npm install` at the root, which builds the packages).
import http from 'node:http';
import { WebSocket } from 'ws';
import { startServer } from './server.mjs';

const t0 = Date.now();
const log = (line) => console.log(`${String(Date.now() - t0).padStart(5)} ms  ${line}`);

const { drainer, wss, url } = await startServer({ port: 0, log });
log(`[server] listening on ${url}`);

function connect(name) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('message', (data) => {
      log(`[${name}] message: ${data}`);
      if (String(data) === 'welcome') resolve(ws);
    });
    ws.on('close', (code, reason) => log(`[${name}] closed with code ${code}${reason.length ? ` "${reason}"` : ''}${code === 1006 ? ' (abnormal: no close frame)' : ''}`));
    ws.on('error', (error) => log(`[${name}] error: ${error.message}`));
  });
}

const alice = await connect('ws alice');
const bob = await connect('ws bob');
alice.send('hi from alice');
await new Promise((resolve) => alice.once('message', resolve));

// A plain keep-alive HTTP client, idle when the drain starts.
const agent = new http.Agent({ keepAlive: true });
await new Promise((resolve) => http.get(url.replace('ws:', 'http:'), { agent }, (res) => res.resume().on('end', resolve)));
log('[http client] got a response; its keep-alive connection is now idle');

for (const c of drainer.connections()) log(`[server] ${c.id}: ${c.protocol}`);
const closed = Promise.all([alice, bob].map((ws) => new Promise((resolve) => ws.once('close', resolve))));

log('[server] shutdown() begins');
const report = await drainer.shutdown({ timeoutMs: 5_000 });
await closed;
log(`[server] shutdown finished: ${report.total} connection(s), ${report.closed} closed gracefully, ${report.forced} forced, ${report.durationMs} ms`);
wss.close();
agent.destroy();
