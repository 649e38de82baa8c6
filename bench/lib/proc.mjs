// Child processes for the benchmark: forked through bash so the file-descriptor
// limit can be raised first, with a small request/response protocol over IPC.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import os from 'node:os';

/** Soft fd limit this machine allows a child to raise to (the hard limit). */
export function hardFdLimit() {
  const out = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

/**
 * Starts `[wrapper] node [nodeArgs] script args` with the fd limit raised to `fds`
 * (65536 if allowed, else the hard limit; it fails loudly below `fds`). `node`
 * is the binary (default: the one running the benchmark); `wrapper` a command
 * that runs it (valgrind).
 */
export function startChild(script, args = [], { fds = 1024, nodeArgs = [], node = process.execPath, wrapper = [] } = {}) {
  const quote = (a) => `'${String(a).replace(/'/g, `'\\''`)}'`;
  const quoted = [...wrapper, node, ...nodeArgs, script, ...args].map(quote).join(' ');
  const command = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ` +
    `if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt ${fds} ]; then echo "bench: fd limit $(ulimit -n) < ${fds} needed" >&2; exit 70; fi; ` +
    `exec ${quoted}`;
  const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Child(child, script);
}

export class Child {
  constructor(proc, name) {
    this.proc = proc;
    this.name = name;
    this.seq = 0;
    this.pending = new Map();
    this.exited = false;
    this.ready = new Promise((resolve, reject) => {
      proc.once('message', (message) => (message.ready ? resolve(message) : reject(new Error(`${name}: unexpected first message`))));
      proc.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
    });
    proc.on('message', (message) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message);
    });
    proc.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited with ${code}`));
      this.pending.clear();
    });
  }

  call(cmd, payload = {}) {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, cmd, ...payload });
    });
  }

  async stop() {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.call('exit').catch(() => {});
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs autocannon (the npm package's CLI) as its own process (`wrapper`: e.g. taskset); resolves its JSON result. */
export function autocannon(url, { connections, durationSec, wrapper = [] }) {
  return new Promise((resolve, reject) => {
    const cli = new URL('../../node_modules/autocannon/autocannon.js', import.meta.url).pathname;
    const argv = [...wrapper, process.execPath, cli, '-c', String(connections), '-d', String(durationSec), '-j', '-n', url];
    const proc = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`autocannon output was not JSON: ${out.slice(0, 200)} ${err}`));
      }
    });
  });
}

/**
 * `pinTo(cpu)`: the `taskset -c <cpu>` prefix for a command, or none when `enabled`
 * is false, the machine has fewer than 2 CPUs or no taskset. `pinned` says which.
 */
export function cpuPinning(enabled = true) {
  let pinned = enabled && os.availableParallelism() >= 2;
  if (pinned) {
    try {
      pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
    } catch {
      pinned = false;
    }
  }
  return { pinned, pinTo: (cpu) => (pinned ? ['taskset', '-c', String(cpu)] : []) };
}

/** One measured window: autocannon against a bench server child, with the server's CPU time and request count over it. */
export async function cpuWindow(server, port, { connections, durationSec, wrapper = [] }) {
  await server.call('cpu-start');
  const result = await autocannon(`http://127.0.0.1:${port}/`, { connections, durationSec, wrapper });
  const cpu = await server.call('cpu-stop');
  return { result, cpuMicros: cpu.cpuMicros, requests: cpu.requests };
}
