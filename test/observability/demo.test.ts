import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npm run demo` imports the BUILT @drainkit/core (npm test builds first).
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const demo = join(root, 'examples/demo/demo.mjs');

function runDemo(args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  if (!existsSync(join(root, 'packages/core/dist/esm/index.js'))) {
    throw new Error('packages/core/dist is missing: run `npm run build` before this test');
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // stdout is a pipe here, so the demo is not on a TTY.
    const child = spawn(process.execPath, [demo, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** Output lines without their "+1.234s" time prefix. */
function lines(stdout: string): string[] {
  return stdout.split('\n').map((line) => line.replace(/^\+\d+\.\d{3}s {2}/, ''));
}

function indexOf(all: string[], pattern: RegExp): number {
  const index = all.findIndex((line) => pattern.test(line));
  expect(index, `a line matching ${pattern}`).toBeGreaterThanOrEqual(0);
  return index;
}

describe('npm run demo', () => {
  it('without a TTY: prints plain lines of each step as it happens, a table of fates, and exits 0 by itself', async () => {
    const { code, stdout, stderr, ms } = await runDemo();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(8_000);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what the assertion looks for (ANSI colour codes)
    expect(stdout).not.toMatch(/[\r\x1b]/); // no redraw, no colour

    const out = lines(stdout);
    for (const label of ['A', 'B', 'C', 'D', 'E']) indexOf(out, new RegExp(`^${label} {2}connected: drainkit connection \\d+-\\d+ `));

    // One chosen connection drained mid-request; the others untouched.
    const drainOne = indexOf(out, /^>> drainConnection\("\d+-\d+"\): drain ONE chosen connection \(A\) mid-request$/);
    const meanwhile = indexOf(out, /^>> meanwhile: 5 open \(A draining, B idle, C active, D active, E active\); 4 request\(s\) in flight$/);
    const aResponse = indexOf(out, /^A {2}client: response 200 with "Connection: close"$/);
    const aDrained = indexOf(out, /^A {2}drained gracefully in \d+ ms \(completed 1, dropped 0, aborted 0\)$/);
    const untouched = indexOf(out, /^>> A is gone, the others were not touched: 4 open \(B idle, C active, D active, E active\)/);
    const shutdown = indexOf(out, /^>> shutdown\(\)/);
    // A's drain is over once its response is written and its FIN sent: the client may read the response just before or after.
    const steps = [drainOne, meanwhile, Math.min(aResponse, aDrained), Math.max(aResponse, aDrained), untouched, shutdown];
    expect(steps).toEqual([...steps].sort((x, y) => x - y));

    // The shutdown drain: plain progress lines counting down, then the fates as they happen.
    const progress = out.filter((line) => line.startsWith('progress: shutdown: ')).map((line) => Number(/: (\d+) of 4 /.exec(line)?.[1]));
    expect(progress).toEqual([4, 3, 2, 1, 0]);
    indexOf(out, /^B {2}drained gracefully in \d+ ms \(completed 0, dropped 0, aborted 0\)$/);
    indexOf(out, /^C {2}drained gracefully in \d+ ms \(completed 1, dropped 1, aborted 0\)$/);
    indexOf(out, /^D {2}drained gracefully in \d+ ms \(completed 1, dropped 0, aborted 0\)$/);
    indexOf(out, /^E {2}FORCED closed at the deadline after \d+ ms \(completed 0, dropped 0, aborted 1\)$/);
    indexOf(out, /^>> drain finished: shutdown, 4 connection\(s\), 3 closed gracefully, 1 forced, \d+ ms$/);

    // The final table, one row per connection.
    const header = indexOf(out, /^client +connection +scenario +drain reason +completed +dropped +aborted +client saw +fate$/);
    const rows = out.slice(header + 1, header + 6);
    expect(rows[0]).toMatch(/^A +\d+-\d+ +slow request in flight +rebalance +1 +0 +0 +1\/1 responses, FIN +completed$/);
    expect(rows[1]).toMatch(/^B +\d+-\d+ +idle keep-alive +shutdown +0 +0 +0 +1\/1 responses, FIN +closed idle$/);
    expect(rows[2]).toMatch(/^C +\d+-\d+ +pipelined pair: work \+ fast +shutdown +1 +1 +0 +1\/2 responses, FIN +dropped$/);
    expect(rows[3]).toMatch(/^D +\d+-\d+ +long work, stops on signal +shutdown +1 +0 +0 +1\/1 responses, FIN +completed$/);
    expect(rows[4]).toMatch(/^E +\d+-\d+ +handler that never answers +shutdown +0 +0 +1 +0\/1 responses, \S+ +forced$/);
    indexOf(out, /^handler calls for \/fast: 1, B's only/);
    indexOf(out, /^shutdown report: 4 connections, 3 closed gracefully, 1 forced, \d+ ms; state closed$/);
  });

  it('with --tty: redraws a progress bar in place and still exits 0', async () => {
    const { code, stdout, stderr } = await runDemo(['--tty']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('\r\x1b[2K'); // return to the line start and clear it: a redraw in place
    expect(stdout).toMatch(/shutdown \[[^\]]*█[^\]]*\] 0\/4 connections remaining/);
    expect(stdout).not.toContain('progress: '); // no plain progress lines
  });
});
