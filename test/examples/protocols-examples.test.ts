import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

/**
 * The HTTP/2 + TLS and WebSocket examples, run as child processes the way a
 * user runs them: `npm start` (demo.mjs, a scripted walk-through) and
 * `npm run serve` (server.mjs, drained by SIGTERM). They import the built
 * packages, so `npm run build` must have run (the root `pretest` does it).
 */
const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; output: string }>;
  /** Resolves with the first match of `pattern` in stdout. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
}

function run(example: string, script: string, env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [script], { cwd: `${examples}${example}`, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => {
      for (const wake of waiters.splice(0)) wake();
      resolve({ code, output });
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    async waitFor(pattern) {
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (child.exitCode !== null) throw new Error(`${example}/${script} exited before printing ${pattern}:\n${output}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

describe('examples/http2-tls', () => {
  it('npm start: both protocols drain gracefully; the h2 client sees GOAWAY(2^31-1) then the final one', async () => {
    const { code, output } = await run('http2-tls', 'demo.mjs').exited;
    expect(code, output).toBe(0);
    expect(output).toMatch(/connection \S+ opened: h2 over TLS/);
    expect(output).toMatch(/connection \S+ opened: http\/1\.1 over TLS/);
    const first = output.indexOf('last stream id 2147483647');
    const final = output.search(/last stream id \d+ \(final/);
    expect(first).toBeGreaterThan(0);
    expect(final).toBeGreaterThan(first);
    expect(output).toContain('ERR_HTTP2_GOAWAY_SESSION');
    expect(output).toContain('data: ERR_DRAIN_SHUTTING_DOWN');
    expect(output).toContain('slow done after 400 ms (HTTP/1.1) [Connection: close]');
    expect(output).toContain('slow done after 600 ms (HTTP/2)');
    expect(output).toMatch(/shutdown finished: 2 connection\(s\), 2 closed gracefully, 0 forced/);
  });

  it('npm run serve: SIGTERM lets an in-flight HTTP/2 stream finish, then the process exits by itself', async () => {
    const server = run('http2-tls', 'server.mjs', { PORT: '0' });
    const [, url] = await server.waitFor(/listening on (https:\/\/127\.0\.0\.1:\d+)/);
    const session = http2.connect(url!, { rejectUnauthorized: false });
    const goaways: number[] = [];
    session.on('goaway', (_code: number, last: number) => goaways.push(last));
    session.on('error', () => undefined);
    const stream = session.request({ ':path': '/slow?ms=300' });
    stream.setEncoding('utf8');
    let body = '';
    stream.on('data', (chunk: string) => (body += chunk));
    const ended = new Promise<void>((resolve) => stream.on('close', () => resolve()));
    stream.end();
    await server.waitFor(/HTTP\/2 \/slow\?ms=300 started/);
    server.child.kill('SIGTERM');
    await ended;
    expect(body).toBe('slow done after 300 ms (HTTP/2)\n');
    const { code, output } = await server.exited;
    session.destroy();
    expect(code, output).toBe(0);
    expect(goaways[0]).toBe(2 ** 31 - 1);
    expect(goaways[1]).toBe(1);
    expect(output).toMatch(/shutdown done: 1 closed gracefully, 0 forced/);
  });
});

describe('examples/websocket', () => {
  it('npm start: every WebSocket client gets close 1001 and nothing is forced', async () => {
    const { code, output } = await run('websocket', 'demo.mjs').exited;
    expect(code, output).toBe(0);
    expect(output).toMatch(/\[ws alice\] closed with code 1001 "going away"/);
    expect(output).toMatch(/\[ws bob\] closed with code 1001 "going away"/);
    expect(output).toMatch(/\(upgraded\) drained: forced=false/);
    expect(output).toMatch(/\(http\/1\.1\) drained: forced=false/);
    expect(output).toMatch(/shutdown finished: 3 connection\(s\), 3 closed gracefully, 0 forced/);
  });

  it('npm run serve: SIGTERM closes a connected WebSocket with 1001, then the process exits by itself', async () => {
    const server = run('websocket', 'server.mjs', { PORT: '0' });
    const [, url] = await server.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/);
    const ws = new WebSocket(url!);
    ws.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    server.child.kill('SIGTERM');
    expect(await closed).toBe(1001);
    const { code, output } = await server.exited;
    expect(code, output).toBe(0);
    expect(output).toMatch(/shutdown done: 1 closed gracefully, 0 forced/);
  });
});
