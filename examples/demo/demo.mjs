// npm run demo: a node:http server with five keep-alive connections; one is
// drained alone in the middle of a request, then the server shuts down.
// Every step is printed as it happens, then each connection's fate.
//
// Flags: --plain (never redraw in place), --tty (redraw even when not a terminal).
import { once } from 'node:events';
import { createDrainer } from '@drainkit/core';
import { DemoClient } from './clients.mjs';
import { LiveView } from './live-view.mjs';
import { createDemoServer } from './server.mjs';

/** Deadline of every drain: what is still running then is forced. */
const DRAIN_TIMEOUT_MS = 1_000;
const args = process.argv.slice(2);
const live = args.includes('--tty') || (!args.includes('--plain') && process.stdout.isTTY === true);
const view = new LiveView({ live, color: live && !process.env.NO_COLOR });

// Piped into `head` and the reader went away: nothing left to show.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// A demo that hangs is a bug: fail loudly instead (unref'd, so it never keeps the process alive).
setTimeout(() => {
  view.close();
  console.error('demo did not finish within 10 s');
  process.exit(1);
}, 10_000).unref();

let handlersStarted = 0;
const startWaiters = [];
const handlerStarted = async (count) => {
  while (handlersStarted < count) await new Promise((resolve) => startWaiters.push(resolve));
};

/** Who each connection is: client label by client port, and by drainkit connection id. */
const clientsByPort = new Map();
const labelById = new Map();
const scenarioByLabel = new Map();
const labelOf = (connection) => labelById.get(connection?.id) ?? '?';

let drainer;
const { server, calls } = createDemoServer({
  getDrainer: () => drainer,
  onHandler: (req, phase, text) => {
    view.event(labelOf(drainer.connectionOf(req)), text);
    if (phase === 'started') {
      handlersStarted++;
      for (const wake of startWaiters.splice(0)) wake();
    }
  },
});
drainer = createDrainer(server, { timeoutMs: DRAIN_TIMEOUT_MS });

// ------------------------------------------------------------ what drainkit reports
const opened = new Map();
drainer.on('connection:open', ({ connection }) => {
  opened.set(connection.remotePort, connection);
  for (const wake of portWaiters.splice(0)) wake();
});
drainer.on('drain:start', ({ kind, ids, reason }) => {
  const who = ids.map((id) => `${labelById.get(id) ?? '?'} (${id})`).join(', ');
  view.step(`drain started: ${kind}, ${ids.length} connection${ids.length === 1 ? '' : 's'}: ${who}; reason "${reason}"`);
  view.startProgress(kind === 'shutdown' ? 'shutdown' : 'drain', ids.length, DRAIN_TIMEOUT_MS);
  pendingDrain = new Set(ids);
});
let pendingDrain = new Set();
const results = new Map();
drainer.on('connection:drained', (result) => {
  results.set(result.id, result);
  const who = labelById.get(result.id) ?? '?';
  const summary = `completed ${result.completedRequests}, dropped ${result.droppedRequests}, aborted ${result.abortedRequests}`;
  if (result.forced) view.event(who, `FORCED closed at the deadline after ${result.durationMs} ms (${summary})`);
  else view.event(who, `drained gracefully in ${result.durationMs} ms (${summary})`);
  pendingDrain.delete(result.id);
  view.progress(pendingDrain.size);
});
drainer.on('drain:end', (report) => {
  view.endProgress();
  view.step(`drain finished: ${report.kind}, ${report.total} connection(s), ${report.closed} closed gracefully, ${report.forced} forced, ${report.durationMs} ms`);
});
drainer.on('shutdown:phase', ({ phase }) => view.step(`shutdown phase: ${phase}`));

// ------------------------------------------------------------ the scenario
const portWaiters = [];
async function connect(label, scenario, port) {
  const client = await DemoClient.open(label, port, (c, text) => view.event(c.label, `client: ${text}`));
  clientsByPort.set(client.localPort, client);
  scenarioByLabel.set(label, scenario);
  // Wait for the server side to have seen it, so both ends are matched.
  while (!opened.has(client.localPort)) await new Promise((resolve) => portWaiters.push(resolve));
  const connection = opened.get(client.localPort);
  labelById.set(connection.id, label);
  view.event(label, `connected: drainkit connection ${connection.id} (${scenario})`);
  return client;
}

function describeStats() {
  const states = drainer.connections().map((c) => `${labelOf(c)} ${c.state}`).join(', ');
  const s = drainer.stats();
  return `${s.open} open (${states}); ${s.inFlight} request(s) in flight`;
}

server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address();
view.step(`node:http server listening on 127.0.0.1:${port}; shutdown deadline ${DRAIN_TIMEOUT_MS} ms`);

const A = await connect('A', 'slow request in flight', port);
const B = await connect('B', 'idle keep-alive', port);
const C = await connect('C', 'pipelined pair: work + fast', port);
const D = await connect('D', 'long work, stops on signal', port);
const E = await connect('E', 'handler that never answers', port);

B.get('/fast');
await B.nextResponse();
A.get('/slow?ms=600');
C.get('/work?finish=300', '/fast'); // two requests in one packet
D.get('/work?finish=500');
E.get('/never');
await handlerStarted(4);
view.step(`all set: ${describeStats()}`);

const idOfA = [...labelById].find(([, label]) => label === 'A')[0];
view.step(`drainConnection("${idOfA}"): drain ONE chosen connection (A) mid-request`);
const draining = drainer.drainConnection(idOfA, { reason: 'rebalance' });
view.step(`meanwhile: ${describeStats()}`);
await draining;
await A.closed;
view.step(`A is gone, the others were not touched: ${describeStats()}`);

view.step('shutdown(): stop accepting, close idle connections, let requests in flight finish, force the rest at the deadline');
const report = await drainer.shutdown();
await Promise.all([A, B, C, D, E].map((client) => client.closed));

// ------------------------------------------------------------ the fates
const fastCalls = calls.filter((c) => c.path === '/fast').length;
const rows = [...labelById].map(([id, label]) => {
  const result = results.get(id);
  const client = [...clientsByPort.values()].find((c) => c.label === label);
  const fate = !result ? 'unknown' : result.forced ? 'forced' : result.droppedRequests > 0 ? 'dropped' : result.completedRequests > 0 ? 'completed' : 'closed idle';
  return {
    label,
    id,
    scenario: scenarioByLabel.get(label),
    by: result?.reason ?? '-',
    completed: result?.completedRequests ?? 0,
    dropped: result?.droppedRequests ?? 0,
    aborted: result?.abortedRequests ?? 0,
    client: `${client.responses.length}/${client.sent} responses, ${client.closedHow ?? 'open'}`,
    fate,
  };
});
view.table(
  [
    ['label', 'client'],
    ['id', 'connection'],
    ['scenario', 'scenario'],
    ['by', 'drain reason'],
    ['completed', 'completed'],
    ['dropped', 'dropped'],
    ['aborted', 'aborted'],
    ['client', 'client saw'],
    ['fate', 'fate'],
  ],
  rows,
);
view.write(`handler calls for /fast: ${fastCalls}, B's only (C's pipelined /fast never reached the handler; the client may retry it, RFC 9112 §9.3.2)`);
view.write(`shutdown report: ${report.total} connections, ${report.closed} closed gracefully, ${report.forced} forced, ${report.durationMs} ms; state ${drainer.state}`);
view.close();
