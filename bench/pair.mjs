#!/usr/bin/env node
// Wall-clock CPU per request of two server variants, and only those two, measured
// in alternating windows (A B B A, then B A A B, ...), the server on CPU 0 and
// autocannon on CPU 1. With just the pair alive and the windows adjacent, the
// ratio moves far less than in `npm run bench`'s twelve-server table (issue 17).
// Usage: node bench/pair.mjs [--node 20,24] [--pairs bare:drainkit,express:express+attach,...] [--rounds 8] [--no-write]
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { autocannon, cpuPinning, cpuWindow, startChild } from './lib/proc.mjs';
import { resolveNodes } from './lib/node-bins.mjs';
import { summarize } from './lib/stats.mjs';

const { values: flags } = parseArgs({
  options: {
    node: { type: 'string', default: '20,24' },
    pairs: { type: 'string', default: 'bare:drainkit,express:express+attach,express:express+middleware,koa:koa+attach' },
    rounds: { type: 'string', default: '8' },
    'window-sec': { type: 'string', default: '2' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(flags.rounds);
const WINDOW_SEC = Number(flags['window-sec']);
const SERVER = new URL('./lib/server.mjs', import.meta.url).pathname;
const { pinned: pinnable, pinTo: pin } = cpuPinning();
const log = (...args) => console.error('[pair]', ...args);

async function measurePair(node, base, variant) {
  const servers = {};
  try {
    for (const v of [base, variant]) {
      const child = startChild(SERVER, [v], { node, wrapper: pin(0) });
      servers[v] = { child, port: (await child.ready).port };
    }
    const url = (v) => `http://127.0.0.1:${servers[v].port}/`;
    for (const v of [base, variant]) await autocannon(url(v), { connections: 50, durationSec: 3, wrapper: pin(1) });
    const window = (v) => cpuWindow(servers[v].child, servers[v].port, { connections: 50, durationSec: WINDOW_SEC, wrapper: pin(1) });
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? [variant, base, base, variant] : [base, variant, variant, base];
      const sum = { [base]: { cpu: 0, requests: 0 }, [variant]: { cpu: 0, requests: 0 } };
      for (const v of order) {
        const cpu = await window(v);
        sum[v].cpu += cpu.cpuMicros;
        sum[v].requests += cpu.requests;
      }
      const perRequest = (v) => sum[v].cpu / sum[v].requests;
      rounds.push({ base: perRequest(base), variant: perRequest(variant), ratio: perRequest(variant) / perRequest(base) });
    }
    const ratio = summarize(rounds.map((r) => r.ratio));
    log(`${node.split("/").slice(-3).join("/")}: ${variant} / ${base} ${ratio.median.toFixed(3)}× (${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)})`);
    return { base, variant, ratio, baseMicros: summarize(rounds.map((r) => r.base)), variantMicros: summarize(rounds.map((r) => r.variant)) };
  } finally {
    for (const { child } of Object.values(servers)) await child.stop();
  }
}

const started = Date.now();
const results = { date: new Date().toISOString(), command: `node bench/pair.mjs ${process.argv.slice(2).join(' ')}`.trim(), pinned: pinnable, rounds: ROUNDS, windowSec: WINDOW_SEC, byNode: [] };
for (const { version, binary } of resolveNodes(flags.node, log)) {
  const pairs = [];
  for (const pair of flags.pairs.split(',')) {
    const [base, variant] = pair.split(':');
    pairs.push(await measurePair(binary, base, variant));
  }
  results.byNode.push({ node: version, pairs });
}
results.durationSec = Math.round((Date.now() - started) / 1000);
if (!flags['no-write']) {
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  await writeFile(new URL(`pair-${results.date.replace(/[:.]/g, '-')}.json`, dir), json);
  await writeFile(new URL('pair-latest.json', dir), json);
}
console.log(JSON.stringify(results.byNode.map((n) => ({ node: n.node, ratios: Object.fromEntries(n.pairs.map((p) => [`${p.variant} / ${p.base}`, Number(p.ratio.median.toFixed(3))])) }))));
