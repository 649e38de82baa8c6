// Writes bench/results/*.json, bench/results/chart.svg and bench/README.md from one run's results.
import { mkdir, writeFile } from 'node:fs/promises';

const BENCH = new URL('../', import.meta.url);
const RESULTS = new URL('../results/', import.meta.url);

const f = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const range = (s, digits = 2, unit = '') => `${f(s.median, digits)}${unit} (${f(s.min, digits)}–${f(s.max, digits)})`;
const mark = (ok) => (ok === undefined ? '–' : ok ? 'met' : '**not met**');

/** The issue's targets, judged on the medians. */
export function judge(results) {
  const targets = [];
  const o = results.overhead;
  if (o) {
    const d = o.ratios.drainkit;
    targets.push({ target: 'drainkit CPU per request ≤ 1.03× bare node:http', value: `${f(d.cpuPerRequest.median, 3)}×`, met: d.cpuPerRequest.median <= 1.03 });
    targets.push({ target: 'drainkit throughput ≥ 0.97× bare node:http', value: `${f(d.throughput.median, 3)}×`, met: d.throughput.median >= 0.97 });
    const alt = Math.min(o.ratios['http-terminator'].cpuPerRequest.median, o.ratios.stoppable.cpuPerRequest.median);
    targets.push({ target: 'drainkit CPU per request no worse than http-terminator and stoppable', value: `${f(d.cpuPerRequest.median, 3)}× vs best alternative ${f(alt, 3)}×`, met: d.cpuPerRequest.median <= alt });
  }
  const s = results.shutdown;
  if (s) {
    const d = s.ratios.drainkit;
    targets.push({ target: 'shutdown(): server-side ≤ 1.1× Node core', value: `${f(d.serverMs.median)}×`, met: d.serverMs.median <= 1.1 });
    targets.push({ target: 'shutdown(): last client close ≤ 1.1× Node core', value: `${f(d.lastClientMs.median)}×`, met: d.lastClientMs.median <= 1.1 });
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
  const o = results.overhead;
  if (o) {
    const bar = (label, ratio, key, highlight) => ({ label, ...ratio[key], highlight });
    const ratioPanel = (title, key) => ({
      title,
      unit: '×',
      reference: 1,
      items: [
        bar('drainkit / node:http', o.ratios.drainkit, key, true),
        bar('http-terminator / node:http', o.ratios['http-terminator'], key),
        bar('stoppable / node:http', o.ratios.stoppable, key),
        bar('Express+drainkit / Express', o.ratios['express+drainkit'], key, true),
        ...(o.ratios['fastify+drainkit'] ? [bar('Fastify+plugin / Fastify', o.ratios['fastify+drainkit'], key, true)] : []),
      ],
    });
    panels.push(ratioPanel('Server CPU per request (× baseline; lower is better)', 'cpuPerRequest'));
    panels.push(ratioPanel('Throughput (× baseline; higher is better)', 'throughput'));
  }
  const s = results.shutdown;
  if (s) {
    const names = ['node-core', 'drainkit', 'http-terminator', 'stoppable'];
    for (const [key, what] of [['serverMs', 'until shutdown resolves'], ['lastClientMs', 'until the last client saw its close']]) {
      panels.push({
        title: `Closing ${s.connections} idle keep-alive connections: ms ${what}`,
        unit: ' ms',
        items: names.map((n) => ({ label: n === 'node-core' ? 'Node core close()' : n, ...s.absolute[n][key], digits: 0, highlight: n === 'drainkit' })),
      });
    }
  }
  const c = results.drainCost;
  if (c) {
    panels.push({
      title: 'drainConnection() call time, µs, by other connections open',
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
  body += `<text x="10" y="${y + 8}" font-size="11" fill="#555">${escapeXml(`Median of ${results.config.runs} runs, whiskers min–max. ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.machine.node}, ${results.date}`)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 20}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${body}</svg>\n`;
}

// ------------------------------------------------------------------ README

export function readme(results) {
  const lines = [];
  const m = results.machine;
  lines.push('# drainkit benchmark', '');
  lines.push('What does drainkit cost on every request, how fast does it close connections, and what does it hold in memory?');
  lines.push('Every figure is measured side by side in one run (each repetition runs every variant, in rotated order),');
  const shutdownRuns = results.config.shutdownRuns ?? results.config.runs;
  lines.push(`repeated ${results.config.runs} times (the shutdown latency ${shutdownRuns} times), and given as the median with (min–max). Ratios are taken within a repetition.`, '');
  lines.push('**This file is generated by `npm run bench`; edit bench/lib/report.mjs, not this file.**', '');
  lines.push('![benchmark chart](results/chart.svg)', '');
  lines.push('## Machine and command', '');
  lines.push(`- ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`);
  lines.push(`- ${results.date}, ${results.durationSec} s in total`);
  lines.push(`- \`npm run build && npm run bench\` (runs \`${results.command}\`; the benchmark imports the built packages)`);
  lines.push('- raw figures: [results/latest.json](results/latest.json)', '');
  lines.push('## Targets (from the issue), judged on the medians', '');
  lines.push('| target | measured | |', '|---|---|---|');
  for (const t of judge(results)) lines.push(`| ${t.target} | ${t.value} | ${mark(t.met)} |`);
  lines.push('');
  const o = results.overhead;
  if (o) {
    const c = results.config.overhead;
    lines.push('## Request overhead', '');
    lines.push(`A handler that answers \`ok\` (2 bytes), HTTP/1.1 keep-alive, loaded by autocannon in its own process (${c.autocannonConnections} connections, ${c.durationSec} s per measurement after a ${c.warmupSec} s warm-up). CPU is \`process.cpuUsage()\` of the server process divided by the requests it served.`, '');
    lines.push('| server | requests/s | p99 latency (ms) | server CPU per request (µs) |', '|---|---|---|---|');
    for (const [name, a] of Object.entries(o.absolute)) {
      lines.push(`| ${name} | ${range(a.requestsPerSec, 0)} | ${range(a.p99Ms, 0)} | ${range(a.cpuMicrosPerRequest, 1)} |`);
    }
    lines.push('', '| ratio | CPU per request | throughput | p99 latency |', '|---|---|---|---|');
    for (const [name, r] of Object.entries(o.ratios)) {
      lines.push(`| ${name} / ${r.base} | ${range(r.cpuPerRequest, 3, '×')} | ${range(r.throughput, 3, '×')} | ${range(r.p99, 2, '×')} |`);
    }
    lines.push('', 'autocannon reports latency in whole milliseconds, so p99 ratios move in big steps; CPU per request is the steady figure.', '');
  }
  const s = results.shutdown;
  if (s) {
    lines.push('## Shutdown latency', '');
    lines.push(`${s.connections} idle keep-alive connections (each served one request), opened by a client process. Timed from the call until the variant's promise/callback (server side), and until the last client socket saw the server's close (FIN or reset), on one clock (\`performance.timeOrigin + performance.now()\` in both processes).`);
    lines.push('Node core is `server.close()` + `server.closeIdleConnections()`; http-terminator is `terminate()`; stoppable is `server.stop()`; drainkit is `shutdown()`.', '');
    lines.push('| variant | server side (ms) | every server socket closed (ms) | last client saw close (ms) | client sockets reset | × Node core (server) | × Node core (client) |', '|---|---|---|---|---|---|---|');
    for (const [name, a] of Object.entries(s.absolute)) {
      const r = s.ratios[name];
      const socketsClosed = a.socketsClosedMs ? range(a.socketsClosedMs, 0) : '–';
      lines.push(`| ${name} | ${range(a.serverMs, 0)} | ${socketsClosed} | ${range(a.lastClientMs, 0)} | ${f(a.clientResets.median, 0)} | ${r ? range(r.serverMs, 2, '×') : '1'} | ${r ? range(r.lastClientMs, 2, '×') : '1'} |`);
    }
    lines.push(
      '',
      'What "server side" means differs, and the extra column shows it. Node core, http-terminator and stoppable destroy each idle socket (`close(2)`, so a FIN) and resolve when the last one is gone.',
      'drainkit half-closes each connection (`shutdown(2)`: a FIN) and resolves once every FIN is queued and every response written: those connections can never carry a request again and have left the registry.',
      'Their sockets then linger, reading and discarding, until the client\'s own FIN (at most `lingerMs`), so that a request racing the close meets a FIN rather than a reset (RFC 9112 §9.6); "every server socket closed" is when `drainer.socketsClosed()` resolved, which `handleSignals` waits for before it exits.',
      'That wait depends on how fast the client process answers 10,000 FINs, so it is not comparable with the others\' server side; the client-side column is the like-for-like figure.',
      '',
      'Why drainkit\'s clients see their close later than Node core\'s: `close(2)` sends its FIN during the call, so Node core\'s first client sees its EOF after ~2 ms. A half-close goes through libuv\'s `uv_shutdown`, which sends the FIN only when the event loop next turns (its pending phase), one socket after another, each followed by a JS completion. drainkit\'s first FIN therefore leaves once the synchronous part of `shutdown()` is over (the server-side figure above, ~6 µs per connection, of which ~2 µs is Node\'s own `socket.end()`), and the rest follow at about the rate Node core closes sockets. The client process then needs the same time as with Node core to work through 10,000 EOFs.',
      '',
    );
  }
  const c = results.drainCost;
  if (c) {
    lines.push('## Per-connection drain cost', '');
    lines.push(`\`drainConnection(id)\` of an idle keep-alive connection while N other idle connections are open (median of ${results.config.drainCost.roundsPerPoint} drains per run). "call" is the synchronous call, "CPU" the server's CPU time until the returned promise resolved, "resolved" the wall time until it resolved (the connection's FIN is queued then; its socket lingers for the client's FIN after that).`, '');
    lines.push('| other connections | call (µs) | CPU (µs) | resolved (µs) |', '|---|---|---|---|');
    for (const n of c.points) {
      const b = c.byOthers[n];
      lines.push(`| ${n} | ${range(b.callMicros, 1)} | ${range(b.cpuMicros, 0)} | ${range(b.resolveMicros, 0)} |`);
    }
    lines.push('', `Ratio ${c.points.at(-1)} others / ${c.points[0]} other: call ${range(c.flatness.callMicros, 2, '×')}, CPU ${range(c.flatness.cpuMicros, 2, '×')}.`, '');
  }
  const mem = results.memory;
  if (mem) {
    lines.push('## Memory', '');
    lines.push(`Heap used (\`--expose-gc\`, after 4 × \`gc()\`) grown by opening ${mem.connections} idle keep-alive connections, per connection, in a bare \`node:http\` server and one with drainkit attached; the difference is what drainkit holds per tracked connection.`, '');
    lines.push('| | bytes per connection |', '|---|---|');
    lines.push(`| bare node:http | ${range(mem.bareBytesPerConnection, 0)} |`);
    lines.push(`| with drainkit | ${range(mem.drainkitBytesPerConnection, 0)} |`);
    lines.push(`| drainkit's share | ${range(mem.drainkitExtraBytesPerConnection, 0)} |`, '');
  }
  lines.push('## How it is measured', '');
  lines.push('- Every server runs in its own process (`bench/lib/server.mjs`), every load generator in another (autocannon\'s CLI; `bench/lib/clients.mjs` for idle connections), all on 127.0.0.1.');
  lines.push('- Processes holding many connections are started through `bash -c "ulimit -n …"`; the run stops with an error if the limit is too low or if any connection could not be opened.');
  lines.push('- Options: `node bench/run.mjs --runs 5 --shutdown-runs 10 --only overhead,shutdown,drain-cost,memory --connections 10000` (`--shutdown-runs` defaults to twice `--runs`).');
  lines.push('- No timing assertions live in the unit tests; these figures are only ever compared within one run.', '');
  return lines.join('\n');
}

export async function writeResults(results) {
  await mkdir(RESULTS, { recursive: true });
  results.targets = judge(results);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const stamp = results.date.replace(/[:.]/g, '-');
  const files = [new URL(`bench-${stamp}.json`, RESULTS), new URL('latest.json', RESULTS), new URL('chart.svg', RESULTS), new URL('README.md', BENCH)];
  await writeFile(files[0], json);
  await writeFile(files[1], json);
  await writeFile(files[2], chart(results));
  await writeFile(files[3], readme(results));
  return files.map((u) => u.pathname);
}
