// The "Instructions per request" section of bench/README.md, from bench/instructions.mjs's results.
// It lives between two markers, so `npm run bench` (report.mjs) and `npm run bench:instructions`
// can each regenerate their part of the file.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';

const BENCH = new URL('../', import.meta.url);
const RESULTS = new URL('../results/', import.meta.url);
export const LATEST = new URL('instructions-latest.json', RESULTS);
export const START = '<!-- instructions:start -->';
export const END = '<!-- instructions:end -->';

const pct = (ratio) => `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(2)}%`;

export function instructionsSection(results) {
  const lines = [START, '## Instructions per request (callgrind)', ''];
  const c = results.config;
  lines.push(
    'The steady per-request measure: wall-clock CPU on this shared machine moves by ±5% between runs, instruction counts by a fraction of that.',
    `Each server runs under \`valgrind --tool=callgrind\` (every thread counted); a client process (not measured) sends ${c.requests} requests for the same 2-byte answer over ${c.connections} keep-alive connection${c.connections === 1 ? '' : 's'}, one request at a time per connection, after ${c.warmup} warm-up requests.`,
    'The figure is (instructions in a window with those requests − instructions in an empty window) / requests, so startup, warm-up and the measuring itself cancel out;',
    `window pairs are repeated until two in a row agree within ${(c.tolerance * 100).toFixed(1)}% (JIT tier-up under valgrind takes thousands of requests), and the figure is their mean. Servers run with \`${c.nodeArgs}\` (V8 compiles and collects garbage on the main thread, so no background thread's timing moves the count). Ratios are to the server without drainkit.`,
    ...presetLines(results),
    `\`${results.command}\` (\`npm run bench:instructions\`), ${results.date}, ${results.valgrind}${results.durationSec ? `, ${results.durationSec} s` : ''}; raw figures: [results/instructions-latest.json](results/instructions-latest.json).`,
    '',
  );
  const variants = [...new Set(results.byNode.flatMap((n) => Object.keys(n.variants)))];
  const column = (n) => n.label ?? `Node ${n.node}`;
  lines.push(`| server | ${results.byNode.map(column).join(' | ')} |`, `|---|${results.byNode.map(() => '---|').join('')}`);
  for (const v of variants) {
    const cell = (n) => {
      const a = n.variants[v];
      if (!a) return '–';
      // --repeat: each run's own median, so run-to-run agreement stands beside the figure.
      if (a.runMedians) return `${Math.round(a.median)} (runs ${a.runMedians.map((m) => Math.round(m)).join(' / ')})${a.unsettled ? ' (not settled)' : ''}`;
      return `${Math.round(a.median)} (${Math.round(a.min)}–${Math.round(a.max)})${a.unsettled ? ' (not settled)' : ''}`;
    };
    lines.push(`| ${v} | ${results.byNode.map(cell).join(' | ')} |`);
  }
  const pairs = [...new Set(results.byNode.flatMap((n) => Object.entries(n.ratios).map(([v, r]) => `${v.split('/')[0]} / ${r.base}`)))];
  lines.push('', `| ratio | ${results.byNode.map(column).join(' | ')} |`, `|---|${results.byNode.map(() => '---|').join('')}`);
  for (const pair of pairs) {
    const [v, base] = pair.split(' / ');
    const ratioOf = (n) => (n.ratios[v]?.base === base ? n.ratios[v] : n.ratios[`${v}/${base}`]);
    const cell = (r) => {
      if (!r) return '–';
      const byRun = r.byRun ? `; runs ${r.byRun.map((x) => `${x.toFixed(4)}×`).join(', ')}` : '';
      return `${r.instructions.toFixed(4)}× (${pct(r.instructions)}${byRun})`;
    };
    lines.push(`| ${pair} | ${results.byNode.map((n) => cell(ratioOf(n))).join(' | ')} |`);
  }
  lines.push(
    '',
    ...(results.notes ?? []).flatMap((note) => ['', note]),
    '',
    '`express+drainkit` is `createDrainer(server)` alone; `express+attach` is `attach(app)` (every request gets `req.drain`); `express+middleware` is `createDrainer` with `app.use(drainMiddleware(drainer))`; `express+noop` is `app.use((req, res, next) => next())`, no drainkit (what any middleware layer costs); `koa+attach` is `@drainkit/koa`\'s `attach(app)` (`ctx.state.drain`).',
    END,
  );
  return lines.join('\n');
}

/** How the columns measured with a preset (bench/instructions.mjs presetFor) differ from the above. */
function presetLines(results) {
  const withPreset = results.byNode.filter((n) => n.preset && n.config);
  if (withPreset.length === 0) return [];
  const c = withPreset[0].config;
  const which = withPreset.length === results.byNode.length ? 'Every column' : withPreset.map((n) => n.label ?? `Node ${n.node}`).join(', ');
  return [
    `${which}: the ${withPreset[0].preset} preset instead: ${c.warmup} warm-up requests in chunks of ${c.warmupChunk} on fresh connections${c.uninstrumentedWarmup ? ", callgrind's instrumentation off" : ''}, each framed by the window commands; a scavenge after every ${c.minorGcEvery}th request, in every variant alike (\`--expose-gc\`); window 1 is not paired by the settle rule (bench/instructions.mjs \`presetFor\`: without it the rule could pair two windows of a tier-up still under way).`,
  ];
}

/** The section from the latest results, or '' when bench:instructions has never run. */
export function latestInstructionsSection() {
  if (!existsSync(LATEST)) return '';
  return instructionsSection(JSON.parse(readFileSync(LATEST, 'utf8')));
}

export async function writeInstructions(results) {
  await mkdir(RESULTS, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const stamp = results.date.replace(/[:.]/g, '-');
  const files = [new URL(`instructions-${stamp}.json`, RESULTS), LATEST, new URL('README.md', BENCH)];
  await writeFile(files[0], json);
  await writeFile(files[1], json);
  const readme = await readFile(files[2], 'utf8').catch(() => '');
  const section = instructionsSection(results);
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  let next;
  if (start >= 0 && end > start) next = readme.slice(0, start) + section + readme.slice(end + END.length);
  else {
    // Before "## Shutdown latency" (after the wall-clock request overhead), else at the end.
    const at = readme.indexOf('## Shutdown latency');
    next = at >= 0 ? `${readme.slice(0, at)}${section}\n\n${readme.slice(at)}` : `${readme}\n${section}\n`;
  }
  await writeFile(files[2], next);
  return files.map((u) => u.pathname);
}
