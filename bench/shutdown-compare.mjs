#!/usr/bin/env node
// Shutdown under keep-alive load, side by side: Node core close(), drainkit,
// Fastify's app.close() with and without @drainkit/fastify, http-terminator and
// @godaddy/terminus. Each server gets SIGTERM while keep-alive clients keep
// sending; the clients count what happened to every request.
// Usage: node bench/shutdown-compare.mjs [--runs 3] [--clients 16] [--no-write]
import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChild } from './lib/proc.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    clients: { type: 'string', default: '16' },
    'no-write': { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs);
const CLIENTS = Number(flags.clients);
const LOAD_BEFORE_MS = 500;
const MAX_AFTER_MS = 4_000;
const VARIANTS = ['node-core', 'drainkit', 'drainkit+noGrace', 'fastify-close', 'fastify+drainkit', 'fastify+drainkit+noGrace', 'http-terminator', 'terminus'];
const SERVER = new URL('./lib/compare-server.mjs', import.meta.url).pathname;
const log = (...args) => console.error('[compare]', ...args);

/**
 * What happened to one request:
 *  ok        200 "ok"
 *  status    any other status (503 from a server that refuses work while closing)
 *  lost      written on a kept-alive connection, then reset or closed without an answer (ECONNRESET, socket hang up)
 *  resetNew  a new connection reset before it was answered (accepted by the kernel, never by the server)
 *  refused   the connection itself was refused (ECONNREFUSED): the listener is closed, a client goes elsewhere
 */
function once(agent, port) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : 'status'));
      res.on('error', () => resolve('lost'));
    });
    req.on('error', (error) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : req.reusedSocket ? 'lost' : 'resetNew'));
    req.end();
  });
}

async function client(port, deadline, triggered) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const counts = { ok: 0, status: 0, lost: 0, resetNew: 0, refused: 0 };
  try {
    // Bounded: stops at the first refused connection after the trigger, or at the deadline.
    while (Date.now() < deadline) {
      const outcome = await once(agent, port);
      counts[outcome]++;
      if (outcome === 'refused' && triggered()) break;
      if (outcome === 'refused') await sleep(5);
    }
  } finally {
    agent.destroy();
  }
  return counts;
}

async function measure(variant) {
  const server = startChild(SERVER, [variant]);
  const { port } = await server.ready;
  const exited = new Promise((resolve) => server.proc.once('exit', (code) => resolve(code)));
  let triggeredAt = 0;
  const started = Date.now();
  const loads = Array.from({ length: CLIENTS }, () => client(port, started + LOAD_BEFORE_MS + MAX_AFTER_MS, () => triggeredAt > 0));
  await sleep(LOAD_BEFORE_MS);
  triggeredAt = Date.now();
  server.proc.kill('SIGTERM');
  const results = await Promise.all(loads);
  const exitCode = await Promise.race([exited, sleep(MAX_AFTER_MS + 6_000).then(() => 'timeout')]);
  if (exitCode === 'timeout') server.proc.kill('SIGKILL');
  const total = { ok: 0, status: 0, lost: 0, resetNew: 0, refused: 0 };
  for (const r of results) for (const key of Object.keys(total)) total[key] += r[key];
  return { ...total, exitCode, stoppedMs: Date.now() - triggeredAt };
}

const runs = [];
for (let run = 0; run < RUNS; run++) {
  const row = {};
  for (const variant of VARIANTS) row[variant] = await measure(variant);
  runs.push(row);
  log(`run ${run + 1}/${RUNS}:`, Object.entries(row).map(([v, r]) => `${v} ok ${r.ok} non-200 ${r.status} lost ${r.lost}`).join(', '));
}

const summary = {};
for (const variant of VARIANTS) {
  const pick = (key) => runs.map((r) => r[variant][key]);
  summary[variant] = { ok: pick('ok'), non200: pick('status'), lost: pick('lost'), resetNew: pick('resetNew'), refused: pick('refused'), exitCode: pick('exitCode') };
}
const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
  config: { runs: RUNS, clients: CLIENTS, loadBeforeMs: LOAD_BEFORE_MS, workMs: 20 },
  summary,
  runs,
};
console.log(JSON.stringify(results, null, 2));
console.log('\n| variant | failed requests per run | lost on a kept-alive connection | new connection reset | non-200 answers | exit code |\n|---|---|---|---|---|---|');
for (const variant of VARIANTS) {
  const s = summary[variant];
  const failed = s.lost.map((l, i) => l + s.resetNew[i] + s.non200[i]);
  console.log(`| ${variant} | ${failed.join(', ')} | ${s.lost.join(', ')} | ${s.resetNew.join(', ')} | ${s.non200.join(', ')} | ${s.exitCode.join(', ')} |`);
}
if (!flags['no-write']) {
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL(`shutdown-compare-${results.date.replace(/[:.]/g, '-')}.json`, dir), `${JSON.stringify(results, null, 2)}\n`);
}
