import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningExample {
  port: number;
  /** The example's own node process (npm start is its parent). */
  pid: number;
  output(): string;
  /** Resolves with npm's exit code. */
  exited: Promise<number | null>;
  /** Kills what is still running (after a failed test). */
  kill(): Promise<void>;
}

/**
 * Starts examples/<name> with `npm start`, as a user would, and waits for its
 * machine-readable "listening" line. The example imports the BUILT packages.
 */
export async function startExample(name: string, env: Record<string, string> = {}): Promise<RunningExample> {
  for (const pkg of ['core', name]) {
    if (!existsSync(`${root}packages/${pkg}/dist/esm/index.js`)) {
      throw new Error(`examples/${name} needs the built packages: run \`npm run build\` first`);
    }
  }
  const child: ChildProcess = spawn('npm', ['start'], {
    cwd: `${root}examples/${name}`,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^\{"listening".*\}$/m.exec(output);
      if (line) resolve(JSON.parse(line[0]) as { port: number; pid: number });
    });
    child.once('exit', (code) => reject(new Error(`examples/${name} exited (${code}) before listening:\n${output}`)));
  });
  return {
    ...started,
    output: () => output,
    exited,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(started.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      child.kill('SIGKILL');
      await exited;
    },
  };
}
