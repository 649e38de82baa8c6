#!/usr/bin/env node
// The shutdown's FIN train in a steady unit: instructions the server runs from the
// shutdown call until it sends its last FIN, counted by callgrind, per closed
// connection, for Node core, drainkit, http-terminator and stoppable side by side.
// Wall-clock figures of the same thing (bench/run.mjs, "last FIN asked") move by
// ±10% from run to run on this VM; the kernel's close(2) (~70% of each close, the
// same call in every variant) is not counted here, so this is the part in which the
// variants differ: their own loop, Node's destroy(), and for drainkit the listener's
// accept-queue check and plug before the first FIN.
// The shutdown runs once per process, in code that has never run: what is counted
// includes V8 compiling it (lazily, on first call), as in production.
// Usage: node bench/shutdown-instructions.mjs [--node 20,22,24] [--connections 2000] [--repeat 2] [--variants node-core,drainkit,...] [--keep] [--no-write]
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChild } from './lib/proc.mjs';
import { summarize } from './lib/stats.mjs';
import { resolveNodes } from './lib/node-bins.mjs';

const { values: flags } = parseArgs({
  options: {
    node: { type: 'string', default: '20,22,24' },
    variants: { type: 'string', default: 'node-core,drainkit,http-terminator,stoppable' },
    connections: { type: 'string', default: '2000' },
    // Longer than drainkit's idle grace (1 s) and 1 s more: every connection is long idle, as in bench/run.mjs.
    'idle-ms': { type: 'string', default: '2500' },
    repeat: { type: 'string', default: '2' },
    'node-args': { type: 'string', default: '--single-threaded --hash-seed=1 --random-seed=1 --min-semi-space-size=16 --max-semi-space-size=16 --no-memory-reducer' },
    'no-write': { type: 'boolean', default: false },
    // Keep callgrind's files (for callgrind_annotate); their directory is logged.
    keep: { type: 'boolean', default: false },
  },
});
const CONNECTIONS = Number(flags.connections);
const REPEAT = Math.max(1, Number(flags.repeat));
const VARIANTS = flags.variants.split(',').filter(Boolean);
const SERVER = new URL('./lib/server.mjs', import.meta.url).pathname;
const CLIENTS = new URL('./lib/clients.mjs', import.meta.url).pathname;
const log = (...args) => console.error('[shutdown-instructions]', ...args);

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('bench: valgrind is not installed (apt-get install -y valgrind)');
}

function dumpTotals(dir) {
  return readdirSync(dir)
    .filter((f) => /^cg\.\d+\.\d+$/.test(f))
    .map((f) => Number(/^totals:\s*(\d+)/m.exec(readFileSync(path.join(dir, f), 'utf8'))?.[1] ?? Number.NaN));
}

async function measure(node, variant) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drainkit-callgrind-shutdown-'));
  // As bench/instructions.mjs: no address-space randomisation and fixed V8 seeds, so runs agree;
  // instrumentation off while the connections open (~10x faster), on before the shutdown.
  const wrapper = [
    'setarch', os.machine(), '-R',
    'valgrind', '--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, `--log-file=${dir}/valgrind.%p.log`,
    '--zero-before=uv_os_getpriority', '--dump-before=uv_loadavg', '--dump-instr=no', '--instr-atstart=no',
  ];
  const server = startChild(SERVER, [variant], { node: node.binary, wrapper, nodeArgs: flags['node-args'].split(' ').filter(Boolean), fds: CONNECTIONS + 1000 });
  const clients = startChild(CLIENTS, [], { fds: CONNECTIONS + 1000 });
  try {
    const { port } = await server.ready;
    await clients.ready;
    const opened = await clients.call('open', { port, count: CONNECTIONS, concurrency: 50 });
    if (opened.failed > 0) throw new Error(`bench: opened only ${opened.opened} of ${CONNECTIONS} connections (${opened.firstError})`);
    execFileSync('callgrind_control', ['--instr=on', String(server.proc.pid)], { stdio: 'ignore' });
    await sleep(Number(flags['idle-ms']));
    const allClosed = clients.call('wait-all-closed');
    const timing = await server.call('shutdown', { countUntilFins: CONNECTIONS });
    await allClosed;
    if (timing.finCalls !== CONNECTIONS) throw new Error(`bench: ${variant} sent ${timing.finCalls} FINs, expected ${CONNECTIONS}`);
    // Read before the server exits: callgrind dumps once more at exit.
    const totals = dumpTotals(dir);
    if (totals.length !== 1 || !Number.isFinite(totals[0])) throw new Error(`bench: expected one callgrind dump, found ${totals.length}`);
    return totals[0];
  } finally {
    await clients.stop();
    await server.stop();
    if (flags.keep) log(`callgrind files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const startedAt = Date.now();
const nodes = resolveNodes(flags.node, log);
const byNode = [];
for (const node of nodes) {
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < REPEAT; round++) {
    for (const variant of VARIANTS) {
      const total = await measure(node, variant);
      runs[variant].push(total / CONNECTIONS);
      log(`${node.version} ${variant} run ${round + 1}: ${Math.round(total / CONNECTIONS)} instructions per connection until the last FIN (${total} in all)`);
    }
  }
  const variants = Object.fromEntries(Object.entries(runs).map(([v, r]) => [v, summarize(r)]));
  const ratios = {};
  if (variants['node-core']) for (const v of VARIANTS) if (v !== 'node-core') ratios[v] = variants[v].median / variants['node-core'].median;
  byNode.push({ node: node.version, variants, ratios });
  log(`${node.version}:`, Object.entries(ratios).map(([v, r]) => `${v}/node-core ${r.toFixed(3)}×`).join(', '));
}
const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.release()}` },
  valgrind: execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim(),
  command: `node bench/shutdown-instructions.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  config: { connections: CONNECTIONS, idleMs: Number(flags['idle-ms']), repeat: REPEAT, nodeArgs: flags['node-args'] },
  byNode,
  durationSec: Math.round((Date.now() - startedAt) / 1000),
};
const json = `${JSON.stringify(results, null, 2)}\n`;
if (flags['no-write']) console.log(json);
else {
  const file = new URL(`results/shutdown-instructions-${results.date.replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(file, json);
  writeFileSync(new URL('results/shutdown-instructions-latest.json', import.meta.url), json);
  log('wrote', file.pathname);
}
