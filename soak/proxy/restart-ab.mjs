#!/usr/bin/env node
// Rolling restarts without health checks, listener-close variants side by side
// (issue 16): one proxy, two drainkit backends (defaults + handleSignals()), 64
// keep-alive clients (half GET, half POST, no retries). Each restart's shutdown
// runs one variant, interleaved so that both backends and both halves of the run
// see every variant. Per restart: the failures the clients saw (by time), the
// kernel's listen counters (/proc/net/netstat, this network namespace) and the
// backend's listener trace (SIGTERM, backlog change, close). With --pcap DIR,
// tcpdump records SYN/FIN/RST on the backend ports and each reset the backend
// sent is classified against its listener's close.
// Usage: node soak/proxy/restart-ab.mjs --proxy nginx|haproxy --cores name=/path/to/esm/index.js,...
//        [--restarts 32 (per variant)] [--pcap DIR [--pcap-all]] [--out FILE]
// A core is a copy of packages/core/dist/esm with one listener-close variant.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startLoad } from './load.mjs';
import { forkBackend } from './fork-backend.mjs';
import { freePort, logSummary, startProxy } from './proxies.mjs';

const { values: flags } = parseArgs({
  options: {
    proxy: { type: 'string', default: 'nginx' },
    cores: { type: 'string' },
    restarts: { type: 'string', default: '32' },
    pcap: { type: 'string' },
    'pcap-all': { type: 'boolean', default: false },
    out: { type: 'string' },
    'pause-ms': { type: 'string', default: '500' },
  },
});
const VARIANTS = (flags.cores ?? `current=${new URL('../../packages/core/dist/esm/index.js', import.meta.url).pathname}`)
  .split(',')
  .map((s) => s.split('='))
  .map(([name, path]) => ({ name, path }));
const PER_VARIANT = Number(flags.restarts);
const TOTAL = PER_VARIANT * VARIANTS.length;
const PAUSE_MS = Number(flags['pause-ms']);
const COUNTERS = ['ListenOverflows', 'ListenDrops', 'TCPReqQFullDoCookies', 'TCPReqQFullDrop', 'SyncookiesSent', 'SyncookiesRecv', 'TCPAbortOnClose', 'TCPAbortOnData'];

/** Restart r shuts down backend r % 2 with this variant: both backends and both orders see every variant. */
const variantOf = (r) => VARIANTS[(Math.floor(r / 2) + (r % 2)) % VARIANTS.length];

function counters() {
  const out = {};
  for (const file of ['/proc/net/netstat', '/proc/net/snmp']) {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const keys = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/);
      const prefix = keys[0];
      for (const [j, k] of keys.slice(1).entries()) out[`${prefix}${k}`] = Number(values[j + 1]);
    }
  }
  return Object.fromEntries([...COUNTERS.map((k) => [k, out[`TcpExt:${k}`]]), ['OutRsts', out['Tcp:OutRsts']]]);
}
const diff = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));

class Backend {
  constructor(name, port) {
    Object.assign(this, { name, port, lines: [] });
  }

  async start(variant) {
    this.variant = variant;
    this.child = await forkBackend(this.name, { VARIANT: 'drainkit', PORT: String(this.port), DRAINKIT_CORE: variant.path, TRACE_LISTENER: '1' }, this.lines);
  }

  /** SIGTERM, wait for the exit (bounded); returns the shutdown's report line. */
  async stop(signal = 'SIGTERM', ms = 20_000) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    const before = this.lines.length;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
    return this.lines.slice(before).find((l) => l.shutdown);
  }
}

const ports = [await freePort(), await freePort()];
const backends = ports.map((p, i) => new Backend(i ? 'B' : 'A', p));
await backends[0].start(variantOf(0));
await backends[1].start(variantOf(1));
const proxy = await startProxy(flags.proxy, ports, {});
let tcpdump;
let pcapFile;
let tcpdumpStderr = '';
if (flags.pcap) {
  pcapFile = `${flags.pcap}/restart-ab-${flags.proxy}.pcap`;
  // --pcap-all: every packet on the backend ports (ACKs and requests too, to follow one connection; ~200 MB per 150 restarts).
  const filter = flags['pcap-all'] ? `port ${ports[0]} or port ${ports[1]}` : `tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin) != 0 and (port ${ports[0]} or port ${ports[1]})`;
  tcpdump = spawn('tcpdump', ['-i', 'lo', '-nn', '-U', '-B', '262144', '-s', '96', '-w', pcapFile, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  tcpdump.stderr.on('data', (d) => (tcpdumpStderr += d));
  await sleep(1_000);
}
const failures = [];
const load = startLoad({
  port: proxy.port,
  clients: 64,
  durationMs: 60 * 60_000,
  onOutcome: (method, kind, detail) => {
    if (kind !== 'ok') failures.push({ at: Date.now(), method, kind, detail });
  },
});
const restarts = [];
let proxyLog = {};
// SIGINT / SIGTERM: stop after the current restart and clean up (proxy, backends, tcpdump).
let aborted = false;
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => (aborted = true));
try {
  await sleep(1_000);
  for (let r = 0; r < TOTAL && !aborted; r++) {
    const backend = backends[r % 2];
    const variant = variantOf(r);
    if (backend.variant !== variant) throw new Error('schedule');
    const before = counters();
    const startedAt = Date.now();
    const line = await backend.stop();
    const exitedAt = Date.now();
    await backend.start(variantOf(r + 2));
    await sleep(PAUSE_MS);
    restarts.push({ r, variant: variant.name, backend: backend.name, port: backend.port, startedAt, exitedAt, endAt: Date.now(), counters: diff(before, counters()), trace: line?.listenerTrace, unanswered: line?.unanswered });
  }
  await sleep(500);
} finally {
  await load.stop();
  proxyLog = logSummary(proxy.log());
  await proxy.stop().catch(() => {});
  await Promise.all(backends.map((b) => b.stop('SIGKILL')));
  if (tcpdump) {
    tcpdump.kill('SIGINT');
    await once(tcpdump, 'exit');
  }
}

// Failures belong to the restart whose window [SIGTERM, next SIGTERM) they ended in.
for (const f of failures) {
  const owner = restarts.findLast((x) => x.startedAt <= f.at);
  if (owner) (owner.failures ??= []).push(`${f.method} ${f.kind}`);
}

const pcap = pcapFile ? classifyResets(pcapFile, restarts) : undefined;
// The capture misses packets under load: its resets are a lower bound then.
if (pcap) pcap.droppedByKernel = Number(/(\d+) packets? dropped by kernel/.exec(tcpdumpStderr)?.[1] ?? NaN);
const summary = VARIANTS.map(({ name }) => {
  const rs = restarts.filter((x) => x.variant === name);
  const sum = (f) => rs.reduce((n, x) => n + f(x), 0);
  const lostBy = {};
  for (const x of rs) for (const f of x.failures ?? []) lostBy[f] = (lostBy[f] ?? 0) + 1;
  return {
    variant: name,
    restarts: rs.length,
    lost: sum((x) => x.failures?.length ?? 0),
    lostBy,
    restartsWithLoss: rs.filter((x) => x.failures?.length).length,
    perRestart: rs.map((x) => x.failures?.length ?? 0),
    counters: Object.fromEntries(Object.keys(rs[0]?.counters ?? {}).map((k) => [k, sum((x) => x.counters[k])])),
    restartsWithOverflow: rs.filter((x) => x.counters.ListenOverflows > 0).length,
    unanswered: sum((x) => x.unanswered ?? 0),
    acceptedAfterSigterm: sum((x) => x.trace?.acceptedAfterSigterm ?? 0),
    plugs: sum((x) => x.trace?.plugs ?? 0),
    restartsWithPlugRetries: rs.filter((x) => (x.trace?.plugs ?? 0) > 1).length,
    medianSigtermToCloseMs: median(rs.map((x) => (x.trace?.close ?? NaN) - (x.trace?.sigterm ?? NaN)).filter(Number.isFinite)),
    ...(pcap ? { resets: pcap.byVariant[name] } : {}),
  };
});
const result = { at: new Date().toISOString(), node: process.version, proxy: flags.proxy, aborted, perVariant: PER_VARIANT, load: load.requests(), proxyLog, summary, restarts, ...(pcap ? { pcapDroppedByKernel: pcap.droppedByKernel, pcapExamples: pcap.examples } : {}) };
for (const s of summary) console.log(JSON.stringify(s));
console.log(JSON.stringify(proxyLog));
if (flags.out) writeFileSync(flags.out, JSON.stringify(result, null, 2));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.floor(s.length / 2)] * 10) / 10 : undefined;
}

/**
 * Every connection to a backend port that the backend reset, classified against
 * the close of that backend's listener nearest before it:
 *   queuedAtClose   reset within 10 ms of the close, after the handshake (the accept queue;
 *                   resetting a long queue takes a few ms)
 *   lateAfterClose  reset later, on a connection whose SYN the listener had answered
 *                   (a handshake completed in the kernel but never queued: its ACK was dropped)
 *   refused         reset of a SYN the listener never answered (a connect to a closed port)
 *   otherReset      a reset from an accepted connection (drainkit or Node)
 */
function classifyResets(file, restarts) {
  const text = execFileSync('tcpdump', ['-r', file, '-nn', '-tt'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const conns = new Map();
  const backendPorts = new Set(restarts.map((x) => x.port));
  for (const line of text.split('\n')) {
    const m = /^(\d+\.\d+) IP 127\.0\.0\.1\.(\d+) > 127\.0\.0\.1\.(\d+): Flags \[([^\]]+)\]/.exec(line);
    if (!m) continue;
    const t = Number(m[1]) * 1000;
    const [src, dst, flags] = [Number(m[2]), Number(m[3]), m[4]];
    const fromServer = backendPorts.has(src);
    const key = fromServer ? `${dst}>${src}` : `${src}>${dst}`;
    const server = fromServer ? src : dst;
    if (!fromServer && flags === 'S') {
      // A new SYN on a reused client port starts a new connection.
      const prev = conns.get(key);
      if (!prev || prev.rst !== undefined || prev.fin || prev.clientRst) conns.set(key, { server, syn: [t], synAck: [], rst: undefined, fin: false });
      else prev.syn.push(t); // the client resending its SYN
      continue;
    }
    const c = conns.get(key);
    if (!c) continue;
    if (fromServer && flags === 'S.') c.synAck.push(t);
    else if (flags.includes('F')) c.fin = true;
    if (flags.includes('R') && fromServer && c.rst === undefined) c.rst = t;
    if (flags.includes('R') && !fromServer) c.clientRst = true;
  }
  const byVariant = {};
  const examples = [];
  for (const c of conns.values()) {
    if (c.rst === undefined) continue;
    const close = restarts
      .filter((x) => x.port === c.server && x.trace?.close !== undefined && x.trace.close <= c.rst + 1)
      .at(-1);
    const variant = close?.variant ?? 'none';
    const kinds = (byVariant[variant] ??= { queuedAtClose: 0, lateAfterClose: 0, refused: 0, otherReset: 0, synAckRetransmitted: 0 });
    let kind;
    if (!c.synAck.length) kind = 'refused';
    else if (close && c.rst - close.trace.close <= 10 && !c.fin) kind = 'queuedAtClose';
    else if (close && c.rst > close.trace.close + 10 && c.synAck[0] < close.trace.close && !c.fin) kind = 'lateAfterClose';
    else kind = 'otherReset';
    kinds[kind]++;
    if (c.synAck.length > 1) kinds.synAckRetransmitted++;
    if (kind !== 'refused' && examples.length < 40)
      examples.push({ variant, kind, synBeforeCloseMs: close ? Math.round((close.trace.close - c.syn[0]) * 10) / 10 : undefined, rstAfterCloseMs: close ? Math.round((c.rst - close.trace.close) * 10) / 10 : undefined, synAcks: c.synAck.length, syns: c.syn.length });
  }
  return { byVariant, examples };
}
