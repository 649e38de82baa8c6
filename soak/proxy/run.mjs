#!/usr/bin/env node
// Proxy soak (issue 16): nginx-light and HAProxy in front of two Node backends,
// 64 keep-alive clients (half GET, half POST, no retries), rolling restarts and
// periodic drains, side by side for drainkit, Node core and http-terminator.
// Usage: node soak/proxy/run.mjs [--short] [--proxies nginx,haproxy] [--variants ...]
//        [--scenarios restart,drain] [--restarts 16] [--drain-seconds 20] [--no-write]
// --short (CI, ≤ 90 s): drainkit defaults and the production recipe only; exits
// non-zero when any request was lost. The long form writes bench/results/proxy-*.json
// and the table in docs/proof.md. Imports the built @drainkit/core (npm run build).
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startLoad, lost } from './load.mjs';
import { forkBackend } from './fork-backend.mjs';
import { freePort, haproxyH2, logSummary, startProxy } from './proxies.mjs';

const { values: flags } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    proxies: { type: 'string' },
    variants: { type: 'string' },
    scenarios: { type: 'string' },
    restarts: { type: 'string' },
    'drain-seconds': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'fail-on-loss': { type: 'boolean' },
    verbose: { type: 'boolean', default: false },
    label: { type: 'string' },
  },
});
const SHORT = flags.short;
// haproxy-h2: HAProxy speaking HTTP/2 (h2c) to the backends, with the retry-on docs/proxies.md
// recommends for it; haproxy-h2-defaults (long form only by name) without it.
const PROXIES = (flags.proxies ?? 'nginx,haproxy,haproxy-h2').split(',');
const VARIANTS = (flags.variants ?? (SHORT ? 'drainkit,recipe' : 'drainkit,drainkit-grace,core,terminator,recipe,h2close')).split(',');
/**
 * Variants for HTTP/1.1 backends only, and for HTTP/2 (h2c) backends only. The
 * recipe runs on both: over h2 HAProxy's checks use the server's \`proto h2\` and
 * need a host header (\`http-check send hdr host localhost\`, proxies.mjs), without
 * which Node refuses the check's stream (RST_STREAM PROTOCOL_ERROR, "Socket error").
 */
const H1_ONLY = new Set(['core', 'terminator', 'drainkit-grace']);
const H2_ONLY = new Set(['h2close']);
const SCENARIOS = (flags.scenarios ?? 'restart,drain').split(',');
const RESTARTS = Number(flags.restarts ?? (SHORT ? 2 : 16));
const DRAIN_SECONDS = Number(flags['drain-seconds'] ?? (SHORT ? 4 : 20));
const DRAIN_EVERY_MS = 250;
const FAIL_ON_LOSS = flags['fail-on-loss'] ?? SHORT;
/** drainkit's variants must lose nothing; the others are the comparison. */
const MUST_NOT_LOSE = new Set(['drainkit', 'recipe']);
const RECIPE_CHECK_INTER_MS = 500;
/** Longer than the checks need to see the backend fail (fall 2 × inter), plus one interval of margin. */
const RECIPE_SHUTDOWN_DELAY_MS = 1_500;

class Backend {
  constructor(name, port, variant) {
    Object.assign(this, { name, port, variant, lines: [], restartsMs: [] });
  }

  async start() {
    this.child = await forkBackend(
      this.name,
      { VARIANT: this.variant, PORT: String(this.port), SHUTDOWN_DELAY_MS: String(RECIPE_SHUTDOWN_DELAY_MS), PROTOCOL: this.protocol },
      this.lines,
    );
  }

  /** SIGTERM, wait for the exit (bounded), start again on the same port. */
  async restart() {
    const startedAt = Date.now();
    await this.stop('SIGTERM', 20_000);
    this.restartsMs.push(Date.now() - startedAt);
    await this.start();
  }

  drain() {
    if (this.child?.connected) this.child.send({ cmd: 'drain' });
  }

  async stop(signal = 'SIGTERM', ms = 20_000) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }

  /** Requests drainkit saw and never answered, summed over this backend's process lifetimes. */
  unanswered() {
    let sum;
    let last;
    for (const line of this.lines) {
      if (line.unanswered === undefined) continue;
      if (line.shutdown) sum = (sum ?? 0) + line.unanswered;
      last = line;
    }
    if (last && !last.shutdown) sum = (sum ?? 0) + last.unanswered;
    return sum;
  }
}

async function runCase(proxyKind, variant, scenario) {
  const recipe = variant === 'recipe';
  const backends = [new Backend('A', await freePort(), variant), new Backend('B', await freePort(), variant)];
  for (const b of backends) b.protocol = haproxyH2(proxyKind).h2 ? 'h2c' : 'http/1.1';
  await Promise.all(backends.map((b) => b.start()));
  const proxy = await startProxy(proxyKind, backends.map((b) => b.port), { recipe, checkInterMs: RECIPE_CHECK_INTER_MS });
  const startedAt = Date.now();
  try {
    if (recipe) await sleep(2 * RECIPE_CHECK_INTER_MS);
    const load = startLoad({ port: proxy.port, clients: 64, durationMs: 10 * 60_000 });
    await sleep(1_000);
    if (scenario === 'restart') {
      for (let r = 0; r < RESTARTS; r++) {
        await backends[r % 2].restart();
        // Let the proxy see the backend again (health checks: rise 1 at `inter`; nginx: fail_timeout).
        await sleep(recipe ? (proxyKind === 'nginx' ? 2_200 : 3 * RECIPE_CHECK_INTER_MS) : 500);
      }
    } else {
      const until = Date.now() + DRAIN_SECONDS * 1000;
      while (Date.now() < until) {
        backends[0].drain();
        await sleep(DRAIN_EVERY_MS);
      }
    }
    await sleep(500);
    const counts = await load.stop();
    const restartsMs = backends.flatMap((b) => b.restartsMs).sort((a, b) => a - b);
    return {
      proxy: proxyKind,
      variant,
      scenario,
      seconds: Math.round((Date.now() - startedAt) / 100) / 10,
      requests: load.requests(),
      lostGet: lost({ GET: counts.GET, POST: zero(counts.POST) }),
      lostPost: lost({ GET: zero(counts.GET), POST: counts.POST }),
      counts: { GET: counts.GET, POST: counts.POST },
      samples: counts.samples,
      restarts: restartsMs.length,
      restartMedianMs: restartsMs.length ? restartsMs[Math.floor(restartsMs.length / 2)] : undefined,
      proxyLog: logSummary(proxy.log()),
      ...(flags.verbose ? { proxyRaw: proxy.log().slice(-6_000) } : {}),
      // HAProxy (option httplog, dontlog-normal): requests whose server connection was reset before any response header.
      serverResetsBeforeHeaders: (proxy.log().match(/ SH-- /g) ?? []).length,
      unanswered: backends.reduce((n, b) => (b.unanswered() === undefined ? n : (n ?? 0) + b.unanswered()), undefined),
    };
  } finally {
    await proxy.stop();
    await Promise.all(backends.map((b) => b.stop('SIGKILL')));
  }
}

/**
 * Losses the backend never saw: after a listener closed (restart), requests on
 * connections the kernel had completed but Node never accepted are reset, and
 * the proxy cannot resend a request it has sent. nginx logs "recv() failed (104:
 * Connection reset by peer) while reading response header"; HAProxy closes its
 * client's keep-alive connection without a response and without a log line
 * (src/http_ana.c, abort_keep_alive), or logs SH for a client's first request.
 * Only counted when drainkit saw nothing unanswered (a request it read and
 * dropped is counted there); the drain scenario never closes a listener, so it
 * has none. drainkit accepts the whole queue before the close, so at most one
 * such connection per restart remains (docs/proxies.md; restart-ab.mjs with
 * --pcap matches each reset to the close).
 */
function backlogResets(row) {
  if (row.scenario !== 'restart' || row.unanswered !== 0) return 0;
  // HAProxy: SH (a client's first request) or a silent close of the client's
  // keep-alive connection (any later request), which the load counts as a reset.
  // With health checks (the recipe) HAProxy stops sending first: nothing is exempt there.
  // HTTP/2 (haproxy-h2*): a refused stream is a reset too; nothing is told apart there.
  if (row.proxy.startsWith('haproxy-h2')) return 0;
  if (row.proxy === 'haproxy') return row.variant === 'recipe' ? 0 : (row.serverResetsBeforeHeaders ?? 0) + row.counts.GET.reset + row.counts.POST.reset;
  return Object.entries(row.proxyLog)
    .filter(([line]) => line.startsWith('recv() failed (N: Connection reset by peer) while reading response header'))
    .reduce((n, [, count]) => n + count, 0);
}

const zero = (c) => Object.fromEntries(Object.keys(c).map((k) => [k, 0]));
const kinds = (c) =>
  ['e502', 'e503', 'e5xx', 'reset', 'refused', 'hang', 'other']
    .map((k) => [k, c.GET[k] + c.POST[k]])
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || '—';

const rows = [];
let failed = 0;
const overallStart = Date.now();
for (const scenario of SCENARIOS) {
  for (const proxyKind of PROXIES) {
    for (const variant of VARIANTS) {
      if (scenario === 'drain' && (variant === 'terminator' || variant === 'recipe')) continue; // no per-connection drain / same as drainkit
      if ((haproxyH2(proxyKind).h2 ? H1_ONLY : H2_ONLY).has(variant)) continue;
      const row = await runCase(proxyKind, variant, scenario);
      rows.push(row);
      const loss = row.lostGet + row.lostPost;
      const backlog = backlogResets(row);
      row.backlogResets = backlog;
      // haproxy-h2-defaults measures what HAProxy's own retry-on costs (docs/proxies.md): not judged.
      const bad = FAIL_ON_LOSS && MUST_NOT_LOSE.has(variant) && proxyKind !== 'haproxy-h2-defaults' && loss > backlog;
      if (bad) failed++;
      console.log(
        `[soak:proxy] ${bad ? 'FAIL' : !MUST_NOT_LOSE.has(variant) || loss === 0 ? 'ok  ' : loss <= backlog ? 'ok* ' : 'LOST'} ${proxyKind.padEnd(7)} ${variant.padEnd(14)} ${scenario.padEnd(7)} ${row.seconds}s requests ${row.requests}, ` +
          `lost GET ${row.lostGet} POST ${row.lostPost} (${kinds(row.counts)})` +
          (row.restarts ? `, ${row.restarts} restarts (median ${row.restartMedianMs} ms)` : '') +
          (row.unanswered !== undefined ? `, drainkit unanswered ${row.unanswered}` : '') +
          (row.samples.length ? ` e.g. ${row.samples.slice(0, 3).join('; ')}` : ''),
      );
      if (backlog > 0 && loss > 0 && MUST_NOT_LOSE.has(variant)) {
        console.log(`[soak:proxy]      ${Math.min(loss, backlog)} lost to resets at the restart with no request drainkit read left unanswered: connections the kernel queued just before the listener closed are reset (packet captures: restart-ab.mjs --pcap), and the proxy does not resend a request it has sent (docs/proxies.md)`);
      }
      if (loss > 0 || flags.verbose) for (const [line, n] of Object.entries(row.proxyLog)) console.log(`[soak:proxy]      ${proxyKind} log ×${n}: ${line}`);
      if (loss > 0 && row.proxyRaw) console.log(row.proxyRaw);
    }
  }
}
console.log(`[soak:proxy] ${Math.round((Date.now() - overallStart) / 1000)} s; ${failed ? `${failed} case(s) lost requests` : 'nothing lost where nothing may be lost'}`);

if (!SHORT && !flags['no-write']) writeResults(rows);
process.exitCode = failed ? 1 : 0;

function writeResults(rows) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const results = { node: process.version, at: new Date().toISOString(), restarts: RESTARTS, drainSeconds: DRAIN_SECONDS, drainEveryMs: DRAIN_EVERY_MS, rows };
  const dir = new URL('../../bench/results/', import.meta.url);
  // --label: a measurement kept on its own (e.g. before a fix); latest.json and docs/proof.md stay as they are.
  writeFileSync(new URL(`proxy-${flags.label ? `${flags.label}-` : ''}${stamp}.json`, dir), JSON.stringify(results, null, 2));
  if (flags.label) return;
  writeFileSync(new URL('proxy-latest.json', dir), JSON.stringify(results, null, 2));
  const table = [
    `Proxy soak (\`npm run soak:proxy\`, ${results.at.slice(0, 10)}, Node ${process.version}): 64 keep-alive clients through the proxy, half GET, half POST, no client retries;`,
    `restart = ${RESTARTS} rolling restarts (SIGTERM, wait for exit, start again, alternating backends); drain = \`drain()\` of backend A every ${DRAIN_EVERY_MS} ms for ${DRAIN_SECONDS} s.`,
    'haproxy-h2: HAProxy with `proto h2` to h2c backends (`http2.createServer`) and `retry-on conn-failure empty-response`; haproxy-h2-defaults: the same without retry-on; h2close = Node\'s own `session.close()` on every session, no drainkit.',
    'Backends: drainkit = `createDrainer(server)` defaults (idleGraceMs 1 000) + `handleSignals()`; drainkit-grace = the same with idleGraceMs 250; core = `server.close()` + `closeIdleConnections()`; terminator = http-terminator; recipe = drainkit defaults + `shutdownDelayMs: 1500`, the proxy health-checking `/ready` (HAProxy `option httpchk`, `inter 500 fall 2`, over h2 with `http-check send hdr host localhost`; nginx open source: passive `max_fails=1` only). Settings: docs/proxies.md.',
    '',
    '| proxy | backend | scenario | requests | lost GET | lost POST | how they failed | of which accept-backlog resets | median restart | drainkit `unanswered` |',
    '|---|---|---|---:|---:|---:|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.proxy} | ${r.variant} | ${r.scenario} | ${r.requests} | ${r.lostGet} | ${r.lostPost} | ${kinds(r.counts)} | ${r.backlogResets ? Math.min(r.backlogResets, r.lostGet + r.lostPost) : '—'} | ${r.restartMedianMs === undefined ? '—' : `${r.restartMedianMs} ms`} | ${r.unanswered ?? '—'} |`,
    ),
  ].join('\n');
  const proof = new URL('../../docs/proof.md', import.meta.url);
  const text = readFileSync(proof, 'utf8');
  const start = '<!-- proxy-soak:start -->';
  const end = '<!-- proxy-soak:end -->';
  const block = `${start}\n${table}\n${end}`;
  const next = text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n## Behind nginx and HAProxy\n\n${block}\n`;
  writeFileSync(proof, next);
  console.log(`[soak:proxy] wrote bench/results/proxy-${stamp}.json and the table in docs/proof.md`);
}
