#!/usr/bin/env node
// Packs every published package (npm pack runs prepack = the incremental build) and
// checks the tarballs as the registry would serve them: @arethetypeswrong/cli (types
// resolve, with the right module format, under node10, node16 CJS/ESM and bundler)
// and publint (exports, files, fields). Exits non-zero on any problem.
//   node scripts/lint-packages.mjs [--keep <dir>]   (--keep: leave the tarballs there)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keepAt = process.argv.indexOf('--keep');
const out = keepAt > 0 ? resolve(process.argv[keepAt + 1]) : mkdtempSync(join(tmpdir(), 'drainkit-pack-'));

const packages = readdirSync(join(root, 'packages')).filter((name) => {
  try {
    return !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private;
  } catch {
    return false;
  }
});
// The pinned root devDependencies (publint's exports hide its package.json, so by path).
const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
const publint = join(root, 'node_modules/publint/src/cli.js');

let failed = 0;
for (const name of packages) {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: join(root, 'packages', name), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tarball = join(out, packed[0].filename);
  console.log(`\n== ${packed[0].name} (${packed[0].entryCount} files, ${packed[0].size} bytes)`);
  for (const [tool, args] of [
    ['attw', [attw, tarball, '--format', 'table-flipped', '--no-emoji', '--no-color']],
    ['publint', [publint, 'run', tarball, '--strict']],
  ]) {
    try {
      execFileSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NO_COLOR: '1' } });
    } catch {
      console.error(`${tool} failed for ${packed[0].name}`);
      failed++;
    }
  }
}
if (keepAt < 0) rmSync(out, { recursive: true, force: true });
else console.log(`\ntarballs in ${out}`);
if (failed > 0) {
  console.error(`\n${failed} check(s) failed`);
  process.exit(1);
}
console.log('\nattw and publint: clean for every package');
