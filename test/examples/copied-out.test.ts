import { cp, mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startChild } from '../helpers/child.js';
import type { Child } from '../helpers/child.js';
import { request } from '../helpers/net.js';

/**
 * Each example, copied out of the repository into a temp dir with ONLY the
 * packages its package.json declares in node_modules (links to the installed
 * ones, so nothing is downloaded): it starts as its README says, answers, and
 * exits cleanly on SIGTERM. An import the example does not declare fails to
 * resolve here, as it would for a user who copied the folder.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
const children: Child[] = [];

afterAll(async () => {
  for (const child of children) await child.kill();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Manifest {
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  bin?: string | Record<string, string>;
  name: string;
}

async function copyOut(name: string): Promise<{ dir: string; manifest: Manifest }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `drainkit-example-${name}-`));
  dirs.push(dir);
  const source = `${root}examples/${name}`;
  await cp(source, dir, { recursive: true, filter: (from) => !/[/\\](node_modules|dist)$/.test(from) });
  const manifest = JSON.parse(await readFile(`${dir}/package.json`, 'utf8')) as Manifest;
  await mkdir(`${dir}/node_modules/.bin`, { recursive: true });
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })) {
    const target = await realpath(`${root}node_modules/${dep}`);
    await mkdir(path.dirname(`${dir}/node_modules/${dep}`), { recursive: true });
    await symlink(target, `${dir}/node_modules/${dep}`, 'dir');
    const depManifest = JSON.parse(await readFile(`${target}/package.json`, 'utf8')) as Manifest;
    const bins = typeof depManifest.bin === 'string' ? { [depManifest.name]: depManifest.bin } : (depManifest.bin ?? {});
    for (const [bin, file] of Object.entries(bins)) await symlink(path.join(target, file), `${dir}/node_modules/.bin/${bin}`);
  }
  return { dir, manifest };
}

/** `npm run <script>`, or `node <file>` when the test must signal the server itself (npm does not forward signals). */
function run(dir: string, script: string): Child {
  const [command, args] = script.endsWith('.mjs') ? [process.execPath, [script]] : ['npm', ['run', '--silent', script]];
  const child = startChild(command, args, {
    cwd: dir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ADMIN_PASSWORD: 'pw' },
  });
  children.push(child);
  return child;
}

async function readyAndTerm(child: Child, port: number, pid: number, path = '/'): Promise<void> {
  const agent = new http.Agent({ keepAlive: true });
  try {
    expect((await request(agent, port, path)).status).toBe(200);
  } finally {
    agent.destroy();
  }
  process.kill(pid, 'SIGTERM');
}

describe('examples copied out of the repository, with only their declared dependencies', () => {
  it('every example is private: lerna never versions it, npm never publishes it', async () => {
    for (const name of await readdir(`${root}examples`)) {
      const manifest = JSON.parse(await readFile(`${root}examples/${name}/package.json`, 'utf8')) as Manifest;
      expect(manifest.private, name).toBe(true);
    }
  });

  it.each(['express', 'koa'])('examples/%s: npm start, GET /ready, SIGTERM: exit 0', async (name) => {
    const { dir } = await copyOut(name);
    const child = run(dir, 'start');
    const [line] = await child.waitFor(/^\{"listening".*\}$/m);
    const { port, pid } = JSON.parse(line) as { port: number; pid: number };
    await readyAndTerm(child, port, pid, '/ready');
    expect(await child.exited, child.output()).toEqual({ code: 0, signal: null });
    expect(child.output()).toMatch(/shutdown: cleanup-done \(\d+ closed, 0 forced\)/);
  }, 30_000);

  it('examples/websocket and examples/http2-tls: node server.mjs (npm run serve), SIGTERM: exit 0', async () => {
    for (const name of ['websocket', 'http2-tls']) {
      const { dir } = await copyOut(name);
      const child = run(dir, 'server.mjs');
      await child.waitFor(/listening on \w+:\/\/127\.0\.0\.1:(\d+)/);
      child.process.kill('SIGTERM');
      expect(await child.exited, child.output()).toEqual({ code: 0, signal: null });
      expect(child.output()).toMatch(/shutdown done: 0 closed gracefully, 0 forced/);
    }
  }, 30_000);

  it('examples/demo: npm start runs to the end', async () => {
    const { dir } = await copyOut('demo');
    const child = run(dir, 'start');
    expect(await child.exited, child.output()).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('examples/nestjs: npm start builds with its own tsconfig and typescript, serves, drains on SIGTERM', async () => {
    const { dir } = await copyOut('nestjs');
    const child = run(dir, 'start');
    // tsc over Nest's types: slow on a loaded machine.
    const [line] = await child.waitFor(/^\{"listening".*\}$/m, 100_000);
    const { port, pid } = JSON.parse(line) as { port: number; pid: number };
    await readyAndTerm(child, port, pid, '/ready');
    await child.exited;
    expect(child.output()).toMatch(/shutdown: cleanup-done \(\d+ closed, 0 forced\)/);
  }, 120_000);
});
