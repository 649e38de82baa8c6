#!/usr/bin/env node
// Builds the package in the current directory to dist/esm, dist/cjs and dist/types
// with tsc (not esbuild: Nest needs emitDecoratorMetadata, which esbuild drops).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const cwd = process.cwd();
rmSync(join(cwd, 'dist'), { recursive: true, force: true });

const run = (...args) => execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...args], { cwd, stdio: 'inherit' });
run('--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--outDir', 'dist/esm', '--declaration', 'false', '--sourceMap', 'false');
run('--module', 'CommonJS', '--moduleResolution', 'Node10', '--outDir', 'dist/cjs', '--declaration', 'false', '--sourceMap', 'false');
run('--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--outDir', 'dist/types', '--emitDeclarationOnly');

// The package is "type": "module"; the CommonJS build needs its own marker.
mkdirSync(join(cwd, 'dist/cjs'), { recursive: true });
writeFileSync(join(cwd, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
