#!/usr/bin/env node
// Builds one package (the current directory, or the directories given) with tsc
// (not esbuild: Nest needs emitDecoratorMetadata, which esbuild drops):
//
//   dist/esm/  ESM .js + .d.ts (the packages are "type": "module")
//   dist/cjs/  CommonJS .js + .d.ts, marked by dist/cjs/package.json {"type":"commonjs"}
//
// Each format has its own declarations, so TypeScript reads the CommonJS types as
// CommonJS (one shared .d.ts next to "type": "module" is "Masquerading as ESM" to
// @arethetypeswrong/cli, and TS1479 in a `module: nodenext` CommonJS app). Source
// maps and declaration maps point into the shipped src/ (go to definition opens
// the TypeScript source; `node --enable-source-maps` stack traces name it).
//
// Entry points: package.json "drainkit.entryPoints" lists the subpaths ("." is
// src/index.ts, "./x" is src/x.ts). This script writes main/module/types/exports/files
// and a `x/package.json` stub per subpath (for `moduleResolution: node10`, which
// ignores "exports") from that list, so adding an entry point is one line there.
//
// Incremental: a package is rebuilt only when the hash of its inputs (src/, its
// package.json, tsconfigs, this script, the builds of its @drainkit/* dependencies)
// differs from the one recorded in dist/.build-hash. --force rebuilds anyway.
// Workspace dependencies are built first when stale (so `npm pack -w` works alone).
// `--all` builds every non-private package under packages/ (the root `npm run build`).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const force = args.includes('--force');
const dirs = args.filter((a) => !a.startsWith('--'));

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The manifest fields that follow from the entry point list. */
export function manifestFields(entryPoints) {
  const file = (entry) => (entry === '.' ? 'index' : entry.slice(2));
  const exports = {};
  for (const entry of entryPoints) {
    const name = file(entry);
    exports[entry] = {
      import: { types: `./dist/esm/${name}.d.ts`, default: `./dist/esm/${name}.js` },
      require: { types: `./dist/cjs/${name}.d.ts`, default: `./dist/cjs/${name}.js` },
    };
  }
  exports['./package.json'] = './package.json';
  const stubs = entryPoints.filter((e) => e !== '.').map(file);
  return {
    fields: {
      main: './dist/cjs/index.js',
      module: './dist/esm/index.js',
      types: './dist/cjs/index.d.ts',
      exports,
      files: ['dist', '!dist/.build-hash', 'src', ...stubs],
    },
    stubs: Object.fromEntries(
      stubs.map((name) => [name, { main: `../dist/cjs/${name}.js`, module: `../dist/esm/${name}.js`, types: `../dist/cjs/${name}.d.ts` }]),
    ),
  };
}

/** Writes the derived manifest fields and node10 stubs; returns true if anything changed. */
function syncManifest(dir) {
  const manifestFile = join(dir, 'package.json');
  const manifest = readJson(manifestFile);
  const entryPoints = manifest.drainkit?.entryPoints ?? ['.'];
  const { fields, stubs } = manifestFields(entryPoints);
  let changed = false;
  for (const [key, value] of Object.entries(fields)) {
    if (JSON.stringify(manifest[key]) !== JSON.stringify(value)) {
      manifest[key] = value;
      changed = true;
    }
  }
  if (changed) writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [name, stub] of Object.entries(stubs)) {
    const stubFile = join(dir, name, 'package.json');
    const text = `${JSON.stringify(stub, null, 2)}\n`;
    if (!existsSync(stubFile) || readFileSync(stubFile, 'utf8') !== text) {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(stubFile, text);
    }
  }
  return manifest;
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function workspaceDeps(manifest) {
  return Object.keys(manifest.dependencies ?? {})
    .filter((name) => name.startsWith('@drainkit/'))
    .map((name) => join(root, 'packages', name.slice('@drainkit/'.length)))
    .filter((dir) => existsSync(join(dir, 'package.json')));
}

function inputHash(dir, manifest) {
  const hash = createHash('sha256');
  const inputs = [
    ...listFiles(join(dir, 'src')),
    join(dir, 'package.json'),
    join(dir, 'tsconfig.build.json'),
    join(root, 'tsconfig.base.json'),
    self,
    ...workspaceDeps(manifest).map((dep) => join(dep, 'dist/.build-hash')),
  ];
  for (const file of inputs) {
    hash.update(relative(root, file));
    hash.update(existsSync(file) ? readFileSync(file) : 'missing');
  }
  hash.update(require('typescript/package.json').version);
  return hash.digest('hex');
}

// At most one tsc per core: each is CPU-bound and takes a few hundred MB.
let running = 0;
const waiting = [];
async function withSlot(fn) {
  if (running >= Math.max(2, availableParallelism())) await new Promise((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function tscRun(dir, extra) {
  return withSlot(() => new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--declaration', '--declarationMap', '--sourceMap', ...extra], {
      cwd: dir,
      stdio: ['ignore', 2, 2], // progress on stderr: `npm pack --json` owns stdout
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`tsc ${extra.join(' ')} failed in ${dir} (exit ${code})`))));
  }));
}

const building = new Map();
export function build(dir) {
  if (!building.has(dir)) building.set(dir, buildOnce(dir));
  return building.get(dir);
}

async function buildOnce(dir) {
  const manifest = syncManifest(dir);
  for (const dep of workspaceDeps(manifest)) await build(dep);
  const hashFile = join(dir, 'dist/.build-hash');
  const hash = inputHash(dir, manifest);
  const complete = (manifest.drainkit?.entryPoints ?? ['.']).every((e) => existsSync(join(dir, 'dist/cjs', `${e === '.' ? 'index' : e.slice(2)}.js`)));
  if (!force && complete && existsSync(hashFile) && readFileSync(hashFile, 'utf8') === hash) {
    console.error(`${manifest.name}: up to date`);
    return;
  }
  // Emit into a fresh sibling directory (same depth, so map paths match) and swap it in
  // whole: a concurrent build of the same package (lerna, prepack, a test) never sees
  // or leaves a half-written dist/.
  const tmp = join(dir, `.dist-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  await Promise.all([
    tscRun(dir, ['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--outDir', `${tmp}/esm`]),
    tscRun(dir, ['--module', 'CommonJS', '--moduleResolution', 'Node10', '--outDir', `${tmp}/cjs`]),
  ]).catch((error) => {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  });
  // The package is "type": "module"; the CommonJS tree (JS and .d.ts) needs its own marker.
  writeFileSync(join(tmp, 'cjs/package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(tmp, '.build-hash'), hash);
  const old = join(dir, `.dist-old-${process.pid}`);
  if (existsSync(join(dir, 'dist'))) renameSync(join(dir, 'dist'), old);
  renameSync(tmp, join(dir, 'dist'));
  rmSync(old, { recursive: true, force: true });
  console.error(`${manifest.name}: built`);
}

if (process.argv[1] === self) {
  // --all: every published package (not the private examples), in parallel as deps allow.
  const all = readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name))
    .filter((dir) => existsSync(join(dir, 'package.json')) && !readJson(join(dir, 'package.json')).private);
  const targets = args.includes('--all') ? all : dirs.length > 0 ? dirs.map((d) => resolve(d)) : [process.cwd()];
  await Promise.all(targets.map((dir) => build(dir)));
}
