import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { startChild } from '../helpers/child.js';
import { extractBlocks } from './extract.js';
import type { CodeBlock } from './extract.js';
import { preambles } from './preambles.js';

/**
 * Every ts/js code block of README.md, packages/*\/README.md and docs/*.md is
 * written to test/docs/.generated/src (inside the repository, so `@drainkit/*`
 * resolve to the built workspace packages as they would from npm), and ONE
 * tsc run type-checks them all and emits them. Blocks marked `program` are then
 * run with the emitted JavaScript: booted (any listen() gets a free port), sent
 * a request, SIGTERMed, and must shut down gracefully. Marker syntax: extract.ts.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const generated = `${root}test/docs/.generated/`;
const execFileAsync = promisify(execFile);

interface Emitted {
  block: CodeBlock;
  /** Generated source file, relative to .generated/src. */
  file: string;
  /** Lines of preamble before the block's first line. */
  offset: number;
}

async function docFiles(): Promise<string[]> {
  const packages = (await readdir(`${root}packages`)).map((p) => `packages/${p}/README.md`);
  const docs = (await readdir(`${root}docs`)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  return ['README.md', ...packages.sort(), ...docs.sort()];
}

const emitted: Emitted[] = [];
const problems: string[] = [];
let diagnostics: string[] = [];

beforeAll(async () => {
  await rm(generated, { recursive: true, force: true });
  await mkdir(`${generated}src`, { recursive: true });
  await writeFile(`${generated}package.json`, JSON.stringify({ private: true, type: 'module' }));
  // What a user's strict TypeScript project has: no project-only extras (noUncheckedIndexedAccess).
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      allowJs: true,
      checkJs: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      types: ['node'],
      rootDir: 'src',
      outDir: 'dist',
    },
    include: ['src'],
  };
  await writeFile(`${generated}tsconfig.json`, JSON.stringify(tsconfig, null, 2));
  for (const doc of await docFiles()) {
    const extracted = extractBlocks(root, doc);
    problems.push(...extracted.problems);
    for (const block of extracted.blocks) {
      const preamble = block.preamble === undefined ? undefined : preambles[block.preamble];
      if (block.preamble !== undefined && !preamble) {
        problems.push(`${block.doc}:${block.line}: unknown preamble "${block.preamble}"`);
        continue;
      }
      const commonjs = preamble?.commonjs ?? block.commonjs;
      if (preamble && (preamble.lang !== block.lang || Boolean(preamble.commonjs) !== commonjs)) {
        problems.push(`${block.doc}:${block.line}: preamble "${block.preamble}" is ${preamble.lang}${preamble.commonjs ? ' (CommonJS)' : ''}, the block ${block.lang}`);
        continue;
      }
      const ext = block.lang === 'ts' ? 'ts' : commonjs ? 'cjs' : 'mjs';
      const file = `${block.doc.replace(/[/.]/g, '_')}_L${block.line}.${ext}`;
      const head = preamble ? `${preamble.code.trim()}\n` : '';
      await writeFile(`${generated}src/${file}`, head + block.code);
      emitted.push({ block, file, offset: head.split('\n').length - 1 });
    }
  }
  const tsc = `${root}node_modules/typescript/bin/tsc`;
  const result = await execFileAsync(process.execPath, [tsc, '-p', `${generated}tsconfig.json`, '--pretty', 'false'], { cwd: generated }).then(
    (r) => r.stdout,
    (error: { stdout?: string; message: string }) => error.stdout || error.message,
  );
  // "src/README_md_L97.mjs(3,7): error TS2304: ..." -> "README.md:99: error TS2304: ..."
  diagnostics = result
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith(' '))
    .map((line) => {
      const m = /^src\/([^(]+)\((\d+),(\d+)\): (.*)$/.exec(line);
      const entry = m && emitted.find((e) => e.file === m[1]);
      if (!m || !entry) return line;
      const at = Number(m[2]) - entry.offset;
      return at >= 1
        ? `${entry.block.doc}:${entry.block.line + at - 1}:${m[3]}: ${m[4]}`
        : `${entry.block.doc}:${entry.block.line} (preamble "${entry.block.preamble}" line ${m[2]}): ${m[4]}`;
    });
}, 180_000);

describe('documentation code blocks', () => {
  it('every fence names its language, every marker is valid', () => {
    expect(problems).toEqual([]);
    expect(emitted.length).toBeGreaterThan(20);
  });

  it('each package README stands alone on the npm registry: install line with its peers, a whole program, absolute links', async () => {
    for (const name of await readdir(`${root}packages`)) {
      const doc = `packages/${name}/README.md`;
      const text = await readFile(`${root}${doc}`, 'utf8');
      const manifest = JSON.parse(await readFile(`${root}packages/${name}/package.json`, 'utf8')) as {
        name: string;
        peerDependencies?: Record<string, string>;
        peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      };
      const install = /^npm install (.+)$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
      const required = Object.keys(manifest.peerDependencies ?? {}).filter((peer) => !manifest.peerDependenciesMeta?.[peer]?.optional);
      expect(install, `${doc}: npm install line`).toEqual(expect.arrayContaining([manifest.name, ...required]));
      expect(emitted.some((e) => e.block.doc === doc && e.block.kind === 'program'), `${doc}: a whole program`).toBe(true);
      // Relative links break on the registry's page of the package.
      const relative = [...text.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!).filter((href) => !/^(https:\/\/|#)/.test(href));
      expect(relative, `${doc}: relative links`).toEqual([]);
    }
  });

  it('every ts/js block type-checks (one tsc run, strict, checkJs)', () => {
    expect(diagnostics).toEqual([]);
  });

  it('the whole programs boot, serve, and shut down gracefully on SIGTERM', async () => {
    const runs = emitted.filter((e) => e.block.kind === 'program');
    expect(runs.length).toBeGreaterThanOrEqual(5);
    const failures: string[] = [];
    // Three at a time: Nest programs take a few seconds to boot on a busy machine.
    for (let i = 0; i < runs.length; i += 3) {
      const results = await Promise.allSettled(runs.slice(i, i + 3).map((run) => runProgram(run)));
      results.forEach((r, j) => {
        if (r.status === 'rejected') {
          const { block } = runs[i + j]!;
          failures.push(`${block.doc}:${block.line}: ${(r.reason as Error).message}`);
        }
      });
    }
    expect(failures).toEqual([]);
  }, 180_000);
});

/**
 * Runs one program: GET `path` (default /); with `inflight`, SIGTERM is sent
 * while that request is in the handler and the response must still arrive,
 * complete, with `Connection: close`; otherwise SIGTERM follows the response.
 * The process must then exit with `exit` (default 0; Nest re-raises the signal:
 * exit=SIGTERM).
 */
async function runProgram({ block, file }: Emitted): Promise<void> {
  const js = file.replace(/\.ts$/, '.js');
  const child = startChild(process.execPath, ['--import', `${root}test/docs/listen-hook.mjs`, `dist/${js}`], {
    cwd: generated,
    env: { ...process.env, NO_COLOR: '1', ADMIN_TOKEN: 'doc-test-token' },
  });
  const agent = new http.Agent({ keepAlive: true });
  try {
    const [, listening] = await child.waitFor(/^doc-test:listening (\{.*\})$/m, 60_000);
    const { port } = JSON.parse(listening!) as { port: number };
    const path = typeof block.options.path === 'string' ? block.options.path : '/';
    const status = Number(block.options.status ?? 200);
    let terminated = false;
    const response = new Promise<{ status: number; body: string; connection: string | undefined; afterTerm: boolean }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection, afterTerm: terminated }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    if (block.options.inflight) {
      await child.waitFor(new RegExp(`^doc-test:request ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 30_000);
      terminated = true;
      child.process.kill('SIGTERM');
      const res = await response;
      expect(res.status, child.output()).toBe(status);
      expect(res.afterTerm).toBe(true);
      expect(res.connection).toBe('close');
    } else {
      const res = await response;
      expect(res.status, child.output()).toBe(status);
      child.process.kill('SIGTERM');
    }
    const exit = await Promise.race([
      child.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running 30 s after SIGTERM:\n${child.output()}`)), 30_000).unref()),
    ]);
    const expected = String(block.options.exit ?? '0');
    expect(exit, child.output()).toEqual(expected === 'SIGTERM' ? { code: null, signal: 'SIGTERM' } : { code: Number(expected), signal: null });
  } finally {
    agent.destroy();
    await child.kill();
  }
}
