import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Checks the BUILT packages (npm test runs `npm run build` first): each one
// loads from CommonJS and from ESM through its exports map, as users consume it.
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const packages = ['core', 'express', 'fastify', 'koa', 'nestjs', 'prometheus'];

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
}

describe.each(packages)('@drainkit/%s package', (name) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as {
    exports: Record<string, { types: string; import: string; require: string }>;
  };

  it('has an exports map with types, import and require that exist after the build', () => {
    for (const entry of Object.values(manifest.exports)) {
      if (typeof entry === 'string') continue;
      for (const key of ['types', 'import', 'require'] as const) {
        expect(entry[key], key).toBeTypeOf('string');
        expect(existsSync(join(root, 'packages', name, entry[key])), `${name} ${key} ${entry[key]}`).toBe(true);
      }
    }
  });

  it('loads with require() and with import(), exposing the same names', () => {
    const script = (kind: 'require' | 'import') =>
      kind === 'require'
        ? `require('reflect-metadata'); console.log(JSON.stringify(Object.keys(require('@drainkit/${name}')).filter((k) => k !== 'default').sort()))`
        : `import('reflect-metadata').then(() => import('@drainkit/${name}')).then((m) => console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort())))`;
    const fromCjs = JSON.parse(run(['-e', script('require')])) as string[];
    const fromEsm = JSON.parse(run(['--input-type=module', '-e', script('import')])) as string[];
    expect(fromCjs.length).toBeGreaterThan(0);
    expect(fromEsm).toEqual(fromCjs);
  });
});

it('@drainkit/core/cluster loads from CommonJS and ESM', () => {
  const names = (out: string) => (JSON.parse(out) as string[]).filter((n) => n !== 'default').sort();
  const fromCjs = names(run(['-e', "console.log(JSON.stringify(Object.keys(require('@drainkit/core/cluster'))))"]));
  const fromEsm = names(run(['--input-type=module', '-e', "import('@drainkit/core/cluster').then((m) => console.log(JSON.stringify(Object.keys(m))))"]));
  expect(fromCjs).toEqual(expect.arrayContaining(['joinCluster', 'rollingRestart']));
  expect(fromEsm).toEqual(fromCjs);
});

it('@drainkit/core/adapter loads from CommonJS and ESM, and its names are not in the public index', () => {
  const names = (out: string) => (JSON.parse(out) as string[]).filter((n) => n !== 'default').sort();
  const fromCjs = names(run(['-e', "console.log(JSON.stringify(Object.keys(require('@drainkit/core/adapter'))))"]));
  const fromEsm = names(run(['--input-type=module', '-e', "import('@drainkit/core/adapter').then((m) => console.log(JSON.stringify(Object.keys(m))))"]));
  expect(fromCjs).toEqual(expect.arrayContaining(['createRequestDrain', 'handleAdminRequest', 'readinessReply', 'resolveListenOptions']));
  expect(fromEsm).toEqual(fromCjs);
  const index = names(run(['-e', "console.log(JSON.stringify(Object.keys(require('@drainkit/core'))))"]));
  expect(index.filter((n) => fromCjs.includes(n))).toEqual([]);
});

it('@drainkit/core works end to end from CommonJS', () => {
  const out = run([
    '-e',
    `const http = require('node:http');
     const { createDrainer, DrainError } = require('@drainkit/core');
     const server = http.createServer((req, res) => res.end('ok'));
     const drainer = createDrainer(server);
     server.listen(0, '127.0.0.1', () => {
       http.get({ port: server.address().port, host: '127.0.0.1', path: '/' }, (res) => {
         res.resume();
         res.on('end', () => drainer.shutdown().then((report) => {
           drainer.drainConnection('x').catch((e) => console.log(JSON.stringify({ total: report.total, isDrainError: e instanceof DrainError, code: e.code })));
         }));
       });
     });`,
  ]);
  expect(JSON.parse(out)).toEqual({ total: 1, isDrainError: true, code: 'ERR_DRAIN_UNKNOWN_CONNECTION' });
});
