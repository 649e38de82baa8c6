import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

/** A child process whose stdout and stderr are collected into one string, with a way to wait for a line. */
export interface Child {
  process: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of `pattern` in the output; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGKILLs the process if it is still running (cleanup after a failed test). */
  kill(): Promise<void>;
}

export function startChild(command: string, args: string[], options: SpawnOptions): Child {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      resolve({ code, signal });
      wake();
    }),
  );
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    process: child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        function check(): void {
          const match = pattern.exec(output);
          if (match || gone()) {
            clearTimeout(timer);
            waiters.delete(check);
            if (match) resolve(match);
            else reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${output}`));
          }
        }
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
