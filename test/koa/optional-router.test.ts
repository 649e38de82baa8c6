import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The BUILT @drainkit/koa (npm test builds first), installed in a temp dir next to
// koa and @drainkit/core but without @koa/router, which is an optional peer.
const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'drainkit-koa-no-router-'));
  const modules = join(app, 'node_modules');
  mkdirSync(join(modules, '@drainkit/koa'), { recursive: true });
  for (const part of ['package.json', 'dist']) cpSync(join(root, 'packages/koa', part), join(modules, '@drainkit/koa', part), { recursive: true });
  symlinkSync(join(root, 'packages/core'), join(modules, '@drainkit/core'), 'dir');
  symlinkSync(join(root, 'node_modules/koa'), join(modules, 'koa'), 'dir');
});

afterAll(() => rmSync(app, { recursive: true, force: true }));

// Serves /ready through attach() and readiness() over a real socket, then calls adminRouter().
const body = `
  const http = require('node:http');
  let routerLoadable = true;
  try { require.resolve('@koa/router'); } catch { routerLoadable = false; }
  const app = new Koa();
  app.use(readiness());
  const { drainer, listening } = attach(app, { port: 0, host: '127.0.0.1' });
  listening.then(({ port }) => http.get({ host: '127.0.0.1', port, path: '/ready', agent: false }, (res) => {
    res.resume();
    res.on('end', async () => {
      let admin;
      try { adminRouter({ authorize: () => true }); admin = 'created'; } catch (e) { admin = { name: e.name, code: e.code, message: e.message }; }
      await drainer.shutdown();
      console.log(JSON.stringify({ routerLoadable, ready: res.statusCode, admin }));
    });
  }));
`;

async function node(args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, args, { cwd: app, timeout: 20_000 });
  return JSON.parse(stdout);
}

const expected = {
  routerLoadable: false,
  ready: 200,
  admin: { name: 'DrainError', code: 'ERR_DRAIN_MISSING_PEER', message: expect.stringContaining('npm install @koa/router') },
};

describe('@drainkit/koa without @koa/router installed', () => {
  it('loads and serves from CommonJS; only adminRouter() asks for the router, with ERR_DRAIN_MISSING_PEER', async () => {
    const script = `const Koa = require('koa'); const { attach, readiness, adminRouter } = require('@drainkit/koa');\n${body}`;
    expect(await node(['-e', script])).toEqual(expected);
  });

  it('loads and serves from ESM; only adminRouter() asks for the router, with ERR_DRAIN_MISSING_PEER', async () => {
    const script = `import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/x.js');
      import Koa from 'koa'; import { attach, readiness, adminRouter } from '@drainkit/koa';\n${body}`;
    expect(await node(['--input-type=module', '-e', script])).toEqual(expected);
  });
});
