#!/usr/bin/env node
// Puts several `node bench/instructions.mjs --no-write` outputs side by side in one
// "Instructions per request" section of bench/README.md (e.g. main before a change and
// the branch after it, on each Node version), with the notes of bench/instructions-notes.md.
// Usage: node bench/instructions-combine.mjs [--notes bench/instructions-notes.md] "main a0f8fd3=before.json" "speed 1234abc=after.json"
// Each column is labelled "Node <version>, <label>"; columns are ordered by Node version, then as given.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeInstructions } from './lib/instructions-report.mjs';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { notes: { type: 'string', default: new URL('./instructions-notes.md', import.meta.url).pathname } },
});
if (positionals.length === 0) throw new Error('bench: give one or more "label=results.json" arguments');

const runs = positionals.map((arg) => {
  const at = arg.lastIndexOf('=');
  if (at <= 0) throw new Error(`bench: "${arg}" is not "label=results.json"`);
  return { label: arg.slice(0, at), results: JSON.parse(readFileSync(arg.slice(at + 1), 'utf8')) };
});
const major = (version) => Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
const columns = runs
  .flatMap(({ label, results }, order) => results.byNode.map((n) => ({ ...n, label: `Node ${n.node.replace(/^v/, '')}, ${label}`, order })))
  .sort((a, b) => major(a.node) - major(b.node) || a.order - b.order)
  .map(({ order, ...n }) => n);
const notes = readFileSync(flags.notes, 'utf8')
  .split(/\n\s*\n/)
  .map((p) => p.trim().replace(/\n/g, ' '))
  .filter(Boolean);
const first = runs[0].results;
const combined = {
  ...first,
  date: runs.map((r) => r.results.date).sort().at(-1),
  command: [...new Set(runs.map((r) => r.results.command))].join('; '),
  durationSec: runs.reduce((sum, r) => sum + (r.results.durationSec ?? 0), 0),
  byNode: columns,
  notes,
};
console.error('[instructions] wrote', (await writeInstructions(combined)).join(', '));
