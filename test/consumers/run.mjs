#!/usr/bin/env node
// Installs the packed @drainkit tarballs into the consumer apps of this directory,
// copied OUTSIDE the workspace (a temp dir: no hoisted node_modules to lean on), and
// for each: type-checks it, builds it if it has a build, boots it, sends a request,
// sends SIGTERM while that request is in flight, and asserts the response completed
// and the process ended by itself.
//
//   node scripts/lint-packages.mjs --keep /tmp/packs && node test/consumers/run.mjs /tmp/packs
//
// The installs use the public registry for the frameworks (--prefer-offline: the
// npm cache first). DRAINKIT_KEEP_CONSUMERS=1 leaves the temp dir for a look.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const packs = resolve(process.argv[2] ?? '');
const tarballs = Object.fromEntries(
  readdirSync(packs)
    .filter((f) => /^drainkit-[a-z]+-.*\.tgz$/.test(f))
    .map((f) => [`@drainkit/${f.match(/^drainkit-([a-z]+)-/)[1]}`, join(packs, f)]),
);
if (!tarballs['@drainkit/core']) throw new Error(`no drainkit-core-*.tgz in ${packs}: run node scripts/lint-packages.mjs --keep ${packs} first`);

const apps = readdirSync(here, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
const work = mkdtempSync(join(tmpdir(), 'drainkit-consumers-'));
const run = promisify(execFile);
const t0 = Date.now();
const log = (line) => console.log(`[consumers ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);

async function sh(dir, cmd, args, timeoutMs) {
  try {
    return await run(cmd, args, { cwd: dir, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (error) {
    throw new Error(`${cmd} ${args.join(' ')} failed in ${dir}:\n${error.stdout ?? ''}${error.stderr ?? ''}${error.message}`);
  }
}

/** Copies an app and points its @drainkit dependencies (and the transitive @drainkit/core) at the tarballs. */
function prepare(app) {
  const dir = join(work, app);
  cpSync(join(here, app), dir, { recursive: true, filter: (src) => !/node_modules|dist$/.test(src) });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const name of Object.keys(manifest.dependencies)) {
    if (tarballs[name]) manifest.dependencies[name] = `file:${tarballs[name]}`;
  }
  // The adapters depend on @drainkit/core 0.1.0, which is not on the registry: use the tarball.
  manifest.overrides = { '@drainkit/core': `file:${tarballs['@drainkit/core']}` };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  return { dir, manifest };
}

/** Boots the app, SIGTERMs it with a request in flight; resolves with what happened. */
function drainCheck(app, dir, main) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [main], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let response;
    const fail = (why) => {
      child.kill('SIGKILL');
      reject(new Error(`${app}: ${why}\n--- app output ---\n${output}`));
    };
    const deadline = setTimeout(() => fail('no clean exit within 30 s'), 30_000);
    const agent = new http.Agent({ keepAlive: true });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.stdout.on('data', (chunk) => {
      const before = output;
      output += chunk;
      const port = !before.includes('"port"') && output.match(/\{"port":(\d+)/)?.[1];
      if (port) {
        response = new Promise((ok) => {
          http
            .get({ host: '127.0.0.1', port: Number(port), path: '/slow', agent }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c) => (body += c));
              res.on('end', () => ok({ status: res.statusCode, body, connection: res.headers.connection }));
            })
            .on('error', (error) => ok({ error: error.message }));
        });
      }
      if (!before.includes('slow started') && output.includes('slow started')) child.kill('SIGTERM');
    });
    child.on('exit', async (code, signal) => {
      clearTimeout(deadline);
      agent.destroy();
      resolvePromise({ code, signal, output, response: response ? await response : { error: 'never sent' } });
    });
    child.on('error', (error) => fail(error.message));
  });
}

async function check(app) {
  const { dir, manifest } = prepare(app);
  await sh(dir, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], 240_000);
  log(`${app}: installed`);
  await sh(dir, 'npm', ['run', 'check'], 120_000);
  log(`${app}: type-check clean`);
  if (manifest.scripts.build) await sh(dir, 'npm', ['run', 'build'], 120_000);
  const result = await drainCheck(app, dir, manifest.main);
  const problems = [];
  if (result.response.status !== 200 || !result.response.body.startsWith('slow done')) problems.push(`in-flight response: ${JSON.stringify(result.response)}`);
  // The drained keep-alive connection is closed after its response, not cut.
  if (result.response.connection !== 'close') problems.push(`expected Connection: close on the drained response, got ${result.response.connection}`);
  // Nest's enableShutdownHooks() re-raises the signal after app.close() (documented Nest
  // behaviour); the others exit 0 from handleSignals().
  const ended = manifest.dependencies['@nestjs/core'] ? result.signal === 'SIGTERM' || result.code === 0 : result.code === 0;
  if (!ended) problems.push(`process ended with code ${result.code}, signal ${result.signal}`);
  if (problems.length > 0) throw new Error(`${app}: ${problems.join('; ')}\n--- app output ---\n${result.output}`);
  log(`${app}: SIGTERM with a request in flight: ${JSON.stringify(result.response.body)}, exit ${result.code ?? result.signal}`);
}

const results = await Promise.allSettled(apps.map(check));
const failures = results.filter((r) => r.status === 'rejected');
for (const failure of failures) console.error(String(failure.reason?.message ?? failure.reason));
if (process.env.DRAINKIT_KEEP_CONSUMERS) log(`apps kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
if (failures.length > 0) process.exit(1);
log(`all ${apps.length} consumer apps: type-checked, booted, drained on SIGTERM`);
