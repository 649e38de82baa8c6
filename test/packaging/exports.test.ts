import { execFileSync, spawnSync } from 'node:child_process';
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

type Condition = { types: string; default: string };
type Manifest = {
  exports: Record<string, string | { import: Condition; require: Condition }>;
  drainkit?: { entryPoints: string[] };
  files: string[];
} & Record<string, unknown>;

describe.each(packages)('@drainkit/%s package', (name) => {
  const dir = join(root, 'packages', name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

  it('has per-format exports (import and require each with their own types) that exist after the build', () => {
    const subpaths = Object.entries(manifest.exports).filter(([, entry]) => typeof entry !== 'string');
    expect(subpaths.length).toBeGreaterThan(0);
    for (const [subpath, entry] of subpaths) {
      if (typeof entry === 'string') continue;
      for (const format of ['import', 'require'] as const) {
        expect(Object.keys(entry[format]), `${subpath} ${format}: types must come first`).toEqual(['types', 'default']);
        for (const file of [entry[format].types, entry[format].default]) {
          expect(existsSync(join(dir, file)), `${name} ${subpath} ${format} ${file}`).toBe(true);
        }
      }
      // The CommonJS declarations sit under dist/cjs/package.json {"type":"commonjs"}, so
      // TypeScript reads them as CommonJS rather than as ESM.
      expect(entry.require.types).toMatch(/^\.\/dist\/cjs\//);
    }
    expect(JSON.parse(readFileSync(join(dir, 'dist/cjs/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });

  it('package.json matches what scripts/build-package.mjs derives from drainkit.entryPoints (no hand edits drift)', async () => {
    const { manifestFields } = await import('../../scripts/build-package.mjs');
    const { fields, stubs } = manifestFields(manifest.drainkit?.entryPoints ?? ['.']);
    for (const [key, value] of Object.entries(fields)) expect(manifest[key], key).toEqual(value);
    for (const [stub, content] of Object.entries(stubs)) {
      // node10 resolution ignores "exports": a stub directory per subpath.
      expect(JSON.parse(readFileSync(join(dir, stub, 'package.json'), 'utf8'))).toEqual(content);
    }
  });

  it('is publishable: LICENSE, repository with directory, homepage, bugs, public access, build on prepack', () => {
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
    expect(manifest).toMatchObject({
      license: 'MIT',
      repository: { type: 'git', url: 'git+https://github.com/drainkit/drainkit.git', directory: `packages/${name}` },
      homepage: expect.stringMatching(/^https:\/\/github\.com\/drainkit\/drainkit/),
      bugs: { url: 'https://github.com/drainkit/drainkit/issues' },
      publishConfig: { access: 'public' },
      scripts: { prepack: expect.stringContaining('build-package.mjs') },
    });
    // Shipped sources are what the declaration maps and source maps point at.
    expect(existsSync(join(dir, 'dist/esm/index.d.ts.map'))).toBe(true);
    expect(existsSync(join(dir, 'dist/cjs/index.js.map'))).toBe(true);
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
  }, 60_000); // two Node processes loading Nest: slow on a loaded machine, and nothing here is a timing claim
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

it('builds are incremental: with the sources unchanged since the last build, no package is rebuilt', () => {
  const build = spawnSync(process.execPath, [join(root, 'scripts/build-package.mjs'), '--all'], { cwd: root, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
  const lines = build.stderr.trim().split('\n');
  expect(lines).toEqual(expect.arrayContaining(packages.map((name) => `@drainkit/${name}: up to date`)));
  expect(build.stderr).not.toMatch(/: built/);
});
