#!/usr/bin/env node
// Instructions per request, counted by callgrind: the steady per-request measure
// (wall-clock CPU on a shared machine moves by ±5%, instruction counts by ~0.1%).
// Each server variant runs in its own process under `valgrind --tool=callgrind`;
// a client in another process (not measured) sends requests over keep-alive
// connections, one at a time per connection. After a warm-up, the server counts
// a window with no requests and a window with N requests (callgrind zeroes its
// counters at uv_os_getpriority and dumps them at uv_loadavg, which the server
// calls on IPC commands); (window N − empty window) / N is the per-request figure.
// Usage: node bench/instructions.mjs [--node 20,24] [--variants bare,drainkit,...]
//        [--requests 2000] [--warmup 6000] [--connections 1] [--tolerance 0.005] [--max-windows 10]
//        [--node-args='--single-threaded --hash-seed=1 --random-seed=1 --min-semi-space-size=16 --max-semi-space-size=16 --no-memory-reducer'] [--aslr] [--keep] [--no-write]
//        [--windows 9 --repeat 2] [--uninstrumented-warmup] [--minor-gc-every 250] [--warmup-chunk 2000] [--adapters]
//        [--preset auto|steady|node26|none]
// --adapters is the preset for Express and Koa (bench/instructions-notes.md, "Adapters"):
// servers that allocate enough per request that collections, not the request path, moved
// a 1,000-request window by ±10%. --preset auto (the default) applies the steady preset
// (presetFor below; first made for Node 26, hence its old name node26) to every Node version.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { startChild } from './lib/proc.mjs';
import { summarize } from './lib/stats.mjs';
import { resolveNodes } from './lib/node-bins.mjs';
import { writeInstructions } from './lib/instructions-report.mjs';

export const PAIRS = [
  ['drainkit', 'bare'],
  ['http-terminator', 'bare'],
  ['stoppable', 'bare'],
  ['express+drainkit', 'express'],
  ['express+attach', 'express'],
  ['express+middleware', 'express'],
  // The floor for any middleware: one Express layer that only calls next(), no drainkit.
  ['express+noop', 'express'],
  ['express+middleware', 'express+noop'],
  ['koa+attach', 'koa'],
  ['fastify+drainkit', 'fastify'],
];
const ALL = ['bare', 'drainkit', 'http-terminator', 'stoppable', 'express', 'express+drainkit', 'express+attach', 'express+middleware', 'express+noop', 'koa', 'koa+attach', 'fastify', 'fastify+drainkit'];

const { values: flags } = parseArgs({
  options: {
    node: { type: 'string', default: '' },
    variants: { type: 'string', default: ALL.join(',') },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '6000' },
    connections: { type: 'string', default: '1' },
    // Window pairs are repeated until two in a row agree within --tolerance (JIT tier-up
    // under valgrind takes thousands of requests), at most --max-windows.
    tolerance: { type: 'string', default: '0.005' },
    'max-windows': { type: 'string', default: '14' },
    keep: { type: 'boolean', default: false },
    // V8 flags for the measured server, e.g. --single-threaded (compiler and GC on the main thread).
    'node-args': { type: 'string', default: '--single-threaded --hash-seed=1 --random-seed=1 --min-semi-space-size=16 --max-semi-space-size=16 --no-memory-reducer' },
    // Keep address-space randomisation (default: off, via setarch -R).
    aslr: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    // A fixed number of window pairs per server process, reported as their median (instead of
    // stopping once two in a row agree); --repeat runs each variant in that many processes,
    // interleaved, so run-to-run agreement is shown beside the ratio.
    windows: { type: 'string', default: '0' },
    repeat: { type: 'string', default: '1' },
    // Warm up with callgrind's instrumentation off (--instr-atstart=no; about 10× faster),
    // then switch it on with callgrind_control before the first window.
    'uninstrumented-warmup': { type: 'boolean', default: false },
    // A scavenge after every K-th request (bench/lib/server.mjs); windows must hold a multiple of K.
    'minor-gc-every': { type: 'string', default: '0' },
    'warmup-chunk': { type: 'string', default: '0' },
    adapters: { type: 'boolean', default: false },
    // `auto` and `steady` (alias `node26`) apply the steady preset (below) to every Node in the
    // run; `none` is the method used for Node 20, 22 and 24 until 2026-12-03, which could pair
    // two windows of a tier-up still under way as "settled" (see presetFor).
    preset: { type: 'string', default: 'auto' },
  },
});
if (!['auto', 'steady', 'node26', 'none'].includes(flags.preset)) throw new Error(`bench: --preset ${flags.preset}: one of auto, steady, node26, none`);
/** Whether a flag was given on the command line (a preset sets only what was not). */
const given = (name) => process.argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
if (flags.adapters) {
  // Only what was not given on the command line.
  const preset = {
    variants: 'express,express+attach,express+middleware,express+noop,koa,koa+attach',
    requests: '2000',
    warmup: '20000',
    windows: '9',
    repeat: '2',
    'minor-gc-every': '250',
    'warmup-chunk': '2000',
    // A large first old-generation limit: no mark-compact starts inside the measured windows
    // (an Express server promotes ~10 KB per request; its natural one came every ~3,700 requests).
    'node-args': `${flags['node-args']} --initial-old-space-size=2048 --max-old-space-size=4096`,
  };
  for (const [name, value] of Object.entries(preset)) if (!given(name)) flags[name] = value;
  if (!given('uninstrumented-warmup')) flags['uninstrumented-warmup'] = true;
}
const REQUESTS = Number(flags.requests);
const CONNECTIONS = Number(flags.connections);
const TOLERANCE = Number(flags.tolerance);
const MAX_WINDOWS = Number(flags['max-windows']);
const WINDOWS = Number(flags.windows);
const REPEAT = Math.max(1, Number(flags.repeat));

/**
 * The steady preset, the default for every Node version since 2026-12-03. Without it (`--preset
 * none`: 6,000 instrumented warm-up requests, then windows until two in a row agree) the settle
 * rule paired two windows of a plateau that TurboFan had not left yet: on Node 22.23 drainkit and
 * stoppable "settled" at ~63,000–65,000 instructions per request in windows 3 and 4 (within
 * 0.5%), a process that ran on dropped to ~50,000 in window 5, as every process with this preset
 * measured; on Node 20.20 stoppable settled at ~68,000 against ~50,000 with the preset (the
 * "1.44×" published for stoppable until then). Made first for Node 26, hence its old name node26
 * (bench/instructions-notes.md, "Node 26: what kept the count from settling").
 * On V8 14 the count did not settle for two reasons, neither of them the request path:
 * (1) TurboFan needs 16,000 invocations of a function (`--invocation-count-for-turbofan`, 10,000
 * on Node 24's V8 13.6), and the server's first window commands (IPC) deoptimized Node's shared
 * functions (emit, nextTick, processTicksAndRejections, Readable.read: `wrong map`), so TurboFan
 * compiles landed in windows 2 to 10, each window with some running 3,000–90,000 instructions
 * per request high; (2) a natural scavenge came every ~3,000 requests and cost ~1.1M
 * instructions (~530 per request of a 2,000-request window, 1.7% of a 31k bare request), so a
 * window held 0 or 1 of them and the settle rule paired whichever came in a row.
 * The preset warms up on 60,000 requests (callgrind's instrumentation off, fresh connections every
 * 2,000 requests, as --adapters does), each chunk framed by the window commands (see measure());
 * runs one scavenge at the end of every window (`gc({ type: 'minor' })` after every
 * `--requests`-th request, somewhat more often than the natural one, the same in every variant;
 * --expose-gc is the only V8 flag it adds, and it changes no tiering flag); and does not let the
 * settle rule pair window 1. Values given on the command line win.
 */
function presetFor() {
  const on = flags.preset !== 'none';
  const settings = {
    warmup: Number(flags.warmup),
    minorGcEvery: Number(flags['minor-gc-every']),
    warmupChunk: Number(flags['warmup-chunk']),
    uninstrumentedWarmup: flags['uninstrumented-warmup'],
    warmupAsWindows: false,
    settleFrom: 1,
    preset: on ? 'steady' : undefined,
  };
  if (on) {
    if (!given('warmup')) settings.warmup = Math.max(settings.warmup, 60000);
    if (!given('warmup-chunk') && !settings.warmupChunk) settings.warmupChunk = 2000;
    if (!given('uninstrumented-warmup')) settings.uninstrumentedWarmup = true;
    settings.warmupAsWindows = true;
    settings.settleFrom = 2;
    // --adapters already runs a scavenge every 250 requests; otherwise one per window.
    if (!given('minor-gc-every') && !settings.minorGcEvery) settings.minorGcEvery = REQUESTS;
  }
  if (settings.minorGcEvery > 0 && (REQUESTS % settings.minorGcEvery !== 0 || settings.warmup % settings.minorGcEvery !== 0)) {
    throw new Error(`bench: --requests and --warmup must be multiples of --minor-gc-every ${settings.minorGcEvery}`);
  }
  return settings;
}
const VARIANTS = flags.variants.split(',').filter(Boolean);
for (const v of VARIANTS) if (!ALL.includes(v)) throw new Error(`bench: unknown variant ${v} (one of ${ALL.join(', ')})`);
const SERVER = new URL('./lib/server.mjs', import.meta.url).pathname;
const CLIENTS = new URL('./lib/clients.mjs', import.meta.url).pathname;
const log = (...args) => console.error('[instructions]', ...args);

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('bench: valgrind is not installed (apt-get install -y valgrind)');
}

/** The `totals:` line of a callgrind dump: instructions over every thread since the last zero. */
function dumpTotal(file) {
  const match = /^totals:\s*(\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!match) throw new Error(`bench: no totals in ${file}`);
  return Number(match[1]);
}

/** Dump files callgrind wrote for `--callgrind-out-file=<dir>/cg.%p`: cg.<pid>.<part>, by part. */
function dumps(dir) {
  return readdirSync(dir)
    .map((f) => /^cg\.\d+\.(\d+)$/.exec(f))
    .filter(Boolean)
    .map((m) => ({ part: Number(m[1]), file: path.join(dir, m[0]) }))
    .sort((a, b) => a.part - b.part);
}

// DRAINKIT_BENCH_PAUSE_FILE: while that file exists (another job needs a quiet machine), no
// valgrind server is started and a running one is stopped (SIGSTOP) until it is gone.
const PAUSE_FILE = process.env.DRAINKIT_BENCH_PAUSE_FILE;
async function whilePaused() {
  while (PAUSE_FILE && existsSync(PAUSE_FILE)) await new Promise((resolve) => setTimeout(resolve, 30_000));
}
function pauseWatch(pid) {
  if (!PAUSE_FILE) return () => {};
  let stopped = false;
  const timer = setInterval(() => {
    const want = existsSync(PAUSE_FILE);
    if (want === stopped) return;
    stopped = want;
    log(stopped ? `${PAUSE_FILE} exists: server ${pid} stopped` : `server ${pid} continues`);
    process.kill(pid, stopped ? 'SIGSTOP' : 'SIGCONT');
  }, 5_000);
  return () => {
    clearInterval(timer);
    if (stopped) process.kill(pid, 'SIGCONT');
  };
}

async function measure(node, variant, clients, settings) {
  const { warmup: WARMUP, minorGcEvery: MINOR_GC_EVERY, warmupChunk: WARMUP_CHUNK, uninstrumentedWarmup, warmupAsWindows, settleFrom } = settings;
  await whilePaused();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drainkit-callgrind-'));
  // setarch -R: no address-space randomisation, and with V8's seeds fixed (--node-args)
  // the megamorphic stub cache (keyed by map address and name hash) collides the same way
  // in every run; with both random, separate runs of one build differed by up to ~4%.
  // The fixed semi-space and --no-memory-reducer take wall time out of V8's GC decisions
  // (on a loaded machine a slow run shrank the new space, or started a full GC in a window).
  const wrapper = [
    ...(MINOR_GC_EVERY > 0 ? ['env', `DRAINKIT_BENCH_MINOR_GC_EVERY=${MINOR_GC_EVERY}`] : []),
    ...(!flags.aslr ? ['setarch', os.machine(), '-R'] : []),
    'valgrind', '--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, `--log-file=${dir}/valgrind.%p.log`,
    '--zero-before=uv_os_getpriority', '--dump-before=uv_loadavg', '--dump-instr=no',
    ...(uninstrumentedWarmup ? ['--instr-atstart=no'] : []),
  ];
  const nodeArgs = flags['node-args'].split(' ').filter(Boolean);
  if (MINOR_GC_EVERY > 0 && !nodeArgs.includes('--expose-gc')) nodeArgs.push('--expose-gc');
  const server = startChild(SERVER, [variant], { node: node.binary, wrapper, nodeArgs });
  const unwatch = pauseWatch(server.proc.pid);
  try {
    const { port } = await server.ready;
    // --warmup-chunk: the warm-up as several client calls, each on fresh connections as every
    // window is. In one long call a connection's end and close ran for the first time in the
    // first window and deoptimized Node's stream and parser code there (--trace-deopt: emit,
    // Readable.push, parserOnIncoming, `wrong map`); the recompiling moved two windows by 10–35%.
    const chunk = WARMUP_CHUNK > 0 ? WARMUP_CHUNK : WARMUP;
    for (let done = 0; done < WARMUP; done += chunk) {
      // The steady preset: each chunk framed by the server's own window commands (an empty
      // window, then count-start and count-stop around the chunk), uncounted. The IPC path of
      // the first window otherwise deoptimized Node's shared functions there (emit, nextTick,
      // processTicksAndRejections: `wrong map`), and TurboFan compiled them again up to ~16,000
      // calls later, inside windows 2 to 7.
      if (warmupAsWindows) {
        await server.call('count-start');
        await server.call('count-stop');
        await server.call('count-start');
      }
      await clients.call('requests', { port, count: Math.min(chunk, WARMUP - done), connections: CONNECTIONS });
      if (warmupAsWindows) await server.call('count-stop');
    }
    // bash, setarch and valgrind each exec the next: the child's pid is valgrind's.
    if (uninstrumentedWarmup) execFileSync('callgrind_control', ['--instr=on', String(server.proc.pid)], { stdio: 'ignore' });
    const windowTotal = async (count) => {
      const before = dumps(dir).length;
      const start = await server.call('count-start');
      if (count > 0) await clients.call('requests', { port, count, connections: CONNECTIONS });
      const stop = await server.call('count-stop');
      const after = dumps(dir);
      if (after.length !== before + 1) throw new Error(`bench: expected one new callgrind dump, found ${after.length - before}`);
      return { total: dumpTotal(after.at(-1).file), requests: stop.requests, oldSpace: stop.oldSpace - start.oldSpace };
    };
    const perRequest = [];
    const oldSpacePerRequest = [];
    for (let w = 0; w < (WINDOWS || MAX_WINDOWS); w++) {
      const empty = await windowTotal(0);
      const loaded = await windowTotal(REQUESTS);
      perRequest.push((loaded.total - empty.total) / REQUESTS);
      // Bytes the old space grew by per request; negative: an old-generation collection ran in the window.
      oldSpacePerRequest.push(loaded.oldSpace / REQUESTS);
      log(`  ${node.version} ${variant} window ${w + 1}: ${Math.round(perRequest.at(-1))} (empty window ${empty.total}, old space ${Math.round(oldSpacePerRequest.at(-1))} B/request)`);
      if (WINDOWS) continue;
      const [a, b] = perRequest.slice(-2);
      // The steady preset does not pair the first window: it still held a TurboFan compile
      // (GraphReducer, ~920k instructions) after 60,000 warm-up requests in a bare server.
      const paired = perRequest.length >= settleFrom + 1;
      if (paired && Math.abs(a - b) / Math.min(a, b) <= TOLERANCE) return { steady: [a, b], windows: perRequest, oldSpacePerRequest };
    }
    if (WINDOWS) return { steady: perRequest, windows: perRequest, oldSpacePerRequest };
    log(`  ${node.version} ${variant}: did not settle within ${MAX_WINDOWS} windows; the last two are reported`);
    return { steady: perRequest.slice(-2), windows: perRequest, oldSpacePerRequest, unsettled: true };
  } finally {
    unwatch();
    await server.stop();
    if (flags.keep) log(`callgrind files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const startedAt = Date.now();
const nodes = resolveNodes(flags.node, log);
const clients = startChild(CLIENTS, []);
await clients.ready;
const byNode = [];
try {
  for (const node of nodes) {
    const settings = presetFor();
    if (settings.preset) {
      const off = settings.uninstrumentedWarmup ? ', instrumentation off during warm-up' : '';
      log(
        `${node.version}: preset ${settings.preset} (the same for every variant of this Node): ${settings.warmup} warm-up requests in chunks of ${settings.warmupChunk}${off}, ` +
          `each chunk framed by the window commands as a measured window is, a scavenge after every ${settings.minorGcEvery}th request (--expose-gc), ` +
          `${WINDOWS ? `median of ${WINDOWS} windows` : 'window 1 not paired by the settle rule'}; V8 flags: ${flags['node-args']} --expose-gc`,
      );
    }
    const measured = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    // --repeat: round after round over every variant, so slow drift hits all of them alike.
    for (let round = 0; round < REPEAT; round++) {
      for (const variant of VARIANTS) {
        const t0 = Date.now();
        const run = await measure(node, variant, clients, settings);
        measured[variant].push(run);
        log(`${node.version} ${variant}${REPEAT > 1 ? ` run ${round + 1}` : ''}: median ${Math.round(summarize(run.steady).median)} of ${run.steady.map((n) => Math.round(n)).join(', ')} instructions/request (${Math.round((Date.now() - t0) / 1000)} s)`);
      }
    }
    const variants = {};
    for (const [variant, runs] of Object.entries(measured)) {
      if (REPEAT === 1 && !WINDOWS) {
        const { steady, windows, unsettled } = runs[0];
        variants[variant] = { ...summarize(steady), windows, ...(unsettled ? { unsettled } : {}) };
        continue;
      }
      // The median of every window of every run; each run's own median shows run-to-run agreement.
      const all = runs.flatMap((r) => r.steady);
      const runMedians = runs.map((r) => summarize(r.steady).median);
      const spread = Math.max(...runMedians) / Math.min(...runMedians) - 1;
      variants[variant] = {
        ...summarize(all),
        runMedians,
        runToRun: spread,
        windows: runs.map((r) => r.windows),
        oldSpaceBytesPerRequest: summarize(runs.flatMap((r) => r.oldSpacePerRequest)).median,
        oldGenerationCollections: runs.flatMap((r) => r.oldSpacePerRequest).filter((b) => b < 0).length,
      };
    }
    const ratios = {};
    for (const [variant, base] of PAIRS) {
      if (!variants[variant] || !variants[base]) continue;
      // A variant's first pair is keyed by its name; a second one (middleware / noop) by both.
      const key = ratios[variant] ? `${variant}/${base}` : variant;
      ratios[key] = { base, instructions: variants[variant].median / variants[base].median };
      // With --repeat: the ratio within each round (run r of the variant over run r of its base).
      const a = variants[variant].runMedians;
      const b = variants[base].runMedians;
      if (a && b) ratios[key].byRun = a.map((m, i) => m / b[i]);
    }
    const { preset, warmupAsWindows: _w, ...config } = settings;
    const presetConfig = preset ? { preset, config: { ...config, warmupAsWindows: true, nodeArgs: `${flags['node-args']} --expose-gc` } } : {};
    byNode.push({ node: node.version, binary: node.binary, variants, ratios, ...presetConfig });
    log(`${node.version}:`, Object.entries(ratios).map(([v, r]) => `${v.split('/')[0]}/${r.base} ${r.instructions.toFixed(4)}×`).join(', '));
  }
} finally {
  await clients.stop();
}

const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.release()}` },
  valgrind: execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim(),
  command: `node bench/instructions.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  config: {
    // Without a preset; a Node run with one carries its own `config` in byNode.
    requests: REQUESTS,
    warmup: Number(flags.warmup),
    connections: CONNECTIONS,
    tolerance: TOLERANCE,
    maxWindows: MAX_WINDOWS,
    nodeArgs: flags['node-args'],
    aslr: flags.aslr,
    ...(WINDOWS ? { windows: WINDOWS, repeat: REPEAT } : {}),
    ...(flags['uninstrumented-warmup'] ? { uninstrumentedWarmup: true } : {}),
    ...(Number(flags['minor-gc-every']) ? { minorGcEvery: Number(flags['minor-gc-every']) } : {}),
    ...(Number(flags['warmup-chunk']) ? { warmupChunk: Number(flags['warmup-chunk']) } : {}),
    preset: flags.preset,
  },
  byNode,
  durationSec: Math.round((Date.now() - startedAt) / 1000),
};
if (flags['no-write']) console.log(JSON.stringify(results, null, 2));
else log('wrote', (await writeInstructions(results)).join(', '));
