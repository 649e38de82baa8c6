#!/usr/bin/env node
// Hostile-client soak (issue 12, cases 1-4): for each case, the same server bare
// (node:http / node:http2) and with drainkit, each in its own child process
// (soak/hostile-server.mjs, --expose-gc), driven by a hostile client here, at a
// scale N and 2N. Targets, per case:
//   heap growth ≤ 2 × bare (+ 2 MB measurement floor), or ≤ 20 MB where bare has no equivalent;
//   no event-loop block over 200 ms; linear time (time at 2N ≤ 2.5 × time at N, or under 100 ms).
// Writes bench/results/hostile-<time>.json and .md (and hostile-latest.*). Exits 1 when a target is missed.
// Usage: node soak/hostile.mjs [--only 1,2,3,4] [--scale 1]   (npm run soak:hostile; needs npm run build)
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import http2 from 'node:http2';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({ options: { only: { type: 'string' }, scale: { type: 'string', default: '1' } } });
const SCALE = Number(flags.scale);
const only = flags.only ? new Set(flags.only.split(',')) : undefined;
const SERVER = new URL('./hostile-server.mjs', import.meta.url).pathname;
const MB_FLOOR = 2;
const NO_BARE_MB = 20;
const MAX_BLOCK_MS = 200;
const LINEAR_RATIO = 2.5;
const LINEAR_FLOOR_MS = 100;
const LINGER_MS = 1_500;
const COMMAND_TIMEOUT_MS = 60_000;

/** One server child: bare or drainkit, with a small request/reply protocol over IPC. */
async function startServer(mode, protocol = 'h1') {
  const child = fork(SERVER, [mode, protocol, String(LINGER_MS)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = await once(child, 'message');
  let seq = 0;
  const pending = new Map();
  child.on('message', (message) => {
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  const call = (cmd, args) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${mode} server: "${cmd}" took over ${COMMAND_TIMEOUT_MS} ms (event loop blocked?)`));
      }, COMMAND_TIMEOUT_MS);
      pending.set(id, (message) => {
        clearTimeout(timer);
        if (message.error) reject(new Error(message.error));
        else resolve(message);
      });
      child.send({ id, cmd, args });
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  };
  return { port: ready.port, call, stop };
}

function connect(port, options = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes `count` copies of `text`, honouring backpressure; stops at `stopAt` or after `stallMs` without progress. */
async function writeMany(socket, text, count, stopAt, stallMs = 500) {
  const batch = Buffer.from(text.repeat(100));
  let written = 0;
  while (written < count && Date.now() < stopAt && !socket.destroyed) {
    const ok = socket.write(written + 100 <= count ? batch : text.repeat(count - written));
    written = Math.min(count, written + 100);
    if (!ok) {
      // events.once() rejects on 'error': a reset ends the writing, it is not a failure of the run.
      // The losers' listeners are removed (abort): one wait per full buffer, ~100k of them in case 2.
      const done = new AbortController();
      const { signal } = done;
      const drained = await Promise.race([
        once(socket, 'drain', { signal }).then(() => true, () => false),
        sleep(stallMs, undefined, { signal }).then(() => false, () => false),
        once(socket, 'close', { signal }).then(() => false, () => false),
      ]);
      done.abort();
      if (!drained) break;
    }
  }
  return written;
}

/** Waits until the server has read all it will (its bytesRead stable for 300 ms), or `stopAt`. */
async function settled(server, stopAt) {
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < stopAt) {
    const { bytesRead } = await server.call('progress');
    if (bytesRead !== last) {
      last = bytesRead;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 300) return;
    await sleep(50);
  }
}

const GET = (path) => `GET ${path} HTTP/1.1\r\nHost: soak\r\n\r\n`;

// ---------------------------------------------------------------- the cases

/** 1: one client pipelines N GETs behind a slow first request, then closes. */
async function pipelining(server, n) {
  const socket = await connect(server.port);
  socket.on('error', () => {});
  socket.resume();
  await server.call('mark');
  const started = Date.now();
  socket.write(GET('/slow'));
  const written = await writeMany(socket, GET('/x'), n, started + 8_000);
  await settled(server, started + 15_000);
  const held = await server.call('measure');
  await server.call('resetDelay');
  const closeStarted = Date.now();
  socket.destroy();
  // A paused socket (Node's own backpressure) does not read, so it sees the
  // client's close only once the slow response is written: end it, as its handler would.
  await sleep(50);
  await server.call('release');
  const closed = await server.call('waitClosed', { timeoutMs: 30_000 });
  const after = await server.call('measure');
  return {
    heapGrowthMB: held.heapGrowthMB,
    maxBlockMs: Math.max(held.maxBlockMs, after.maxBlockMs),
    timeMs: Date.now() - started,
    detail: {
      requestsWritten: written,
      handled: held.handled,
      blockWhileHeldMs: Math.round(held.maxBlockMs),
      blockOnCloseMs: Math.round(after.maxBlockMs),
      closeMs: Date.now() - closeStarted,
      closed: closed.closed,
    },
  };
}

/**
 * 2: `n` idle keep-alive clients are drained and keep writing requests after the server's FIN.
 * Bare's equivalent, closeIdleConnections(), destroys them at once: the clients' writes then
 * meet a reset (a request on its way is lost) and bare reads nothing, so its figures are the
 * baseline a lingering socket adds to. drainkit reads and discards (counting) until lingerMs:
 * that must cost a small, bounded amount per socket, never per request. The heap is read while
 * the sockets still linger.
 */
async function lingering(server, n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const socket = await connect(server.port, { allowHalfOpen: true });
    socket.on('error', () => {});
    socket.resume();
    socket.write(GET('/x'));
    sockets.push(socket);
  }
  await sleep(200);
  await server.call('mark');
  const started = Date.now();
  await server.call('drainAll');
  // Every client writes as fast as the socket takes it, until it is closed or the linger is over.
  const stopAt = started + LINGER_MS - 100;
  const writes = sockets.map((socket) => writeMany(socket, GET('/x'), 10_000_000, stopAt, LINGER_MS));
  await sleep(LINGER_MS - 300);
  const peak = await server.call('measure');
  const written = await Promise.all(writes);
  const closed = await server.call('waitClosed', { timeoutMs: 30_000 });
  const after = await server.call('measure');
  for (const socket of sockets) socket.destroy();
  return {
    heapGrowthMB: peak.heapGrowthMB,
    maxBlockMs: Math.max(peak.maxBlockMs, after.maxBlockMs),
    timeMs: Date.now() - started,
    detail: { clients: n, requestsWritten: written.reduce((a, b) => a + b, 0), handled: peak.handled, unanswered: after.unanswered, serverCpuMs: Math.round(after.cpuMs), closed: closed.closed },
  };
}

/** 3: `n` requests one after another on one keep-alive connection, each adding an abort listener to its drain signal. */
async function signals(server, n) {
  const socket = await connect(server.port);
  socket.on('error', () => {});
  socket.setEncoding('latin1');
  await server.call('mark');
  const started = Date.now();
  let responses = 0;
  let wake;
  socket.on('data', (chunk) => {
    for (let at = chunk.indexOf('HTTP/1.1 200'); at !== -1; at = chunk.indexOf('HTTP/1.1 200', at + 1)) responses++;
    wake?.();
  });
  // A window of 8 requests in flight: the client stays ahead of the server without pipelining thousands.
  let sent = 0;
  const deadline = started + 30_000;
  while (responses < n && Date.now() < deadline && !socket.destroyed) {
    while (sent < n && sent - responses < 8) {
      socket.write(GET('/sig'));
      sent++;
    }
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, 1_000).unref();
    });
  }
  const timeMs = Date.now() - started;
  const measured = await server.call('measure');
  socket.destroy();
  return { heapGrowthMB: measured.heapGrowthMB, maxBlockMs: measured.maxBlockMs, timeMs, detail: { responses } };
}

/** 4: one HTTP/2 connection with a stream in flight; `n` calls of drainConnection() on it in one go. */
async function repeatedDrainsCase(server, n) {
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  session.on('error', () => {});
  await once(session, 'connect');
  const stream = session.request({ ':path': '/slow' });
  stream.on('error', () => {});
  stream.resume();
  await sleep(100);
  await server.call('mark');
  const started = Date.now();
  const loop = await server.call('repeatDrain', { times: n });
  const during = await server.call('measure');
  await server.call('release');
  const closed = await server.call('waitClosed', { timeoutMs: 30_000 });
  const after = await server.call('measure');
  session.destroy();
  return {
    heapGrowthMB: during.heapGrowthMB,
    maxBlockMs: Math.max(during.maxBlockMs, after.maxBlockMs, loop.loopMs ?? 0),
    timeMs: Date.now() - started,
    detail: { calls: n, loopMs: loop.loopMs, closed: closed.closed },
  };
}

const cases = [
  { id: '1', name: 'pipelined GETs behind a slow request, then close', run: pipelining, n: 20_000, protocol: 'h1', bare: true },
  { id: '2', name: 'clients writing after the drain FIN (lingering)', run: lingering, n: 4, protocol: 'h1', bare: true },
  { id: '3', name: 'an abort listener per request on one keep-alive connection', run: signals, n: 4_000, protocol: 'h1', bare: true },
  { id: '4', name: 'drainConnection() called repeatedly on one HTTP/2 connection', run: repeatedDrainsCase, n: 5_000, protocol: 'h2', bare: false },
];

async function runOne(testCase, mode, n) {
  const server = await startServer(mode, testCase.protocol);
  try {
    return await testCase.run(server, n);
  } catch (error) {
    return { error: String(error.message ?? error) };
  } finally {
    await server.stop();
  }
}

function judge(testCase, figures) {
  const failures = [];
  const dk = figures.drainkit;
  for (const [scale, run] of Object.entries(dk)) {
    if (run.error) {
      failures.push(`drainkit ${scale}: ${run.error}`);
      continue;
    }
    const bare = figures.bare?.[scale];
    const limit = bare && !bare.error ? Math.max(2 * bare.heapGrowthMB, bare.heapGrowthMB + MB_FLOOR) : NO_BARE_MB;
    if (run.heapGrowthMB > limit) failures.push(`drainkit ${scale}: heap +${run.heapGrowthMB.toFixed(1)} MB > ${limit.toFixed(1)} MB`);
    if (run.maxBlockMs > MAX_BLOCK_MS) failures.push(`drainkit ${scale}: event loop blocked ${run.maxBlockMs.toFixed(0)} ms > ${MAX_BLOCK_MS} ms`);
  }
  const [a, b] = [dk.N, dk['2N']];
  let ratio;
  if (a && b && !a.error && !b.error) {
    ratio = b.timeMs / Math.max(1, a.timeMs);
    if (b.timeMs > LINEAR_FLOOR_MS && ratio > LINEAR_RATIO) failures.push(`time at 2N is ${ratio.toFixed(2)} × time at N (> ${LINEAR_RATIO}: not linear)`);
  }
  return { failures, timeRatio: ratio };
}

const fmt = (run, key, digits = 1) => (!run ? 'n/a' : run.error ? 'error' : run[key].toFixed(digits));

async function main() {
  const results = [];
  const startedAt = new Date();
  for (const testCase of cases) {
    if (only && !only.has(testCase.id)) continue;
    const figures = { bare: testCase.bare ? {} : undefined, drainkit: {} };
    for (const [scale, n] of [['N', Math.round(testCase.n * SCALE) || 1], ['2N', 2 * (Math.round(testCase.n * SCALE) || 1)]]) {
      for (const mode of testCase.bare ? ['bare', 'drainkit'] : ['drainkit']) {
        const run = await runOne(testCase, mode, n);
        figures[mode][scale] = { n, ...run };
        console.log(`case ${testCase.id} ${mode.padEnd(8)} ${scale.padEnd(2)} n=${n}: ` + (run.error ? `ERROR ${run.error}` : `heap +${run.heapGrowthMB.toFixed(1)} MB, max block ${run.maxBlockMs.toFixed(0)} ms, ${run.timeMs} ms ${JSON.stringify(run.detail)}`));
      }
    }
    const verdict = judge(testCase, figures);
    results.push({ id: testCase.id, name: testCase.name, figures, ...verdict, pass: verdict.failures.length === 0 });
  }

  const report = {
    startedAt: startedAt.toISOString(),
    node: process.version,
    scale: SCALE,
    // Event-loop blocks include time the process waited for a CPU: read them next to the load and to bare's own.
    loadavg: os.loadavg(),
    cpus: os.cpus().length,
    targets: { heap: `≤ 2 × bare (+${MB_FLOOR} MB floor), ≤ ${NO_BARE_MB} MB without a bare equivalent`, maxBlockMs: MAX_BLOCK_MS, linear: `time(2N) ≤ ${LINEAR_RATIO} × time(N) or ≤ ${LINEAR_FLOOR_MS} ms` },
    lingerMs: LINGER_MS,
    results,
  };
  const lines = [
    `# Hostile-client soak (${startedAt.toISOString()}, Node ${process.version})`,
    '',
    `Targets: heap growth ${report.targets.heap}; no event-loop block over ${MAX_BLOCK_MS} ms; ${report.targets.linear}.`,
    '',
    `Machine: ${report.cpus} CPUs, load average ${report.loadavg.map((l) => l.toFixed(1)).join(' / ')} at the end. ` +
      'A block includes time spent waiting for a CPU: compare it with bare node:http in the same run.',
    '',
    '| case | scale | n | bare heap MB | drainkit heap MB | bare max block ms | drainkit max block ms | bare time ms | drainkit time ms | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const result of results) {
    for (const scale of ['N', '2N']) {
      const bare = result.figures.bare?.[scale];
      const dk = result.figures.drainkit[scale];
      const verdict = scale === 'N' ? (result.pass ? 'pass' : `FAIL: ${result.failures.join('; ')}`) : `time ratio ${result.timeRatio?.toFixed(2) ?? 'n/a'}`;
      lines.push(`| ${result.id}. ${result.name} | ${scale} | ${dk?.n} | ${fmt(bare, 'heapGrowthMB')} | ${fmt(dk, 'heapGrowthMB')} | ${fmt(bare, 'maxBlockMs', 0)} | ${fmt(dk, 'maxBlockMs', 0)} | ${fmt(bare, 'timeMs', 0)} | ${fmt(dk, 'timeMs', 0)} | ${verdict} |`);
    }
  }
  const dir = new URL('../bench/results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = JSON.stringify(report, null, 2);
  const md = lines.join('\n') + '\n';
  writeFileSync(`${dir}hostile-${stamp}.json`, json);
  writeFileSync(`${dir}hostile-${stamp}.md`, md);
  writeFileSync(`${dir}hostile-latest.json`, json);
  writeFileSync(`${dir}hostile-latest.md`, md);
  console.log('\n' + md);
  process.exitCode = results.every((r) => r.pass) ? 0 : 1;
}

await main();
