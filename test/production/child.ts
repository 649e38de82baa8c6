import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixtures = fileURLToPath(new URL('../fixtures/production/', import.meta.url));
const builtCore = fileURLToPath(new URL('../../packages/core/dist/esm/index.js', import.meta.url));

/** Child fixtures import the built package, as users do; `npm test` builds first. */
export function assertBuilt(): void {
  if (!existsSync(builtCore)) throw new Error('packages/core/dist is missing: run `npm run build` (npm test does) before these tests');
}

export interface Message {
  event: string;
  [key: string]: unknown;
}

/** A forked fixture that reports events over IPC; every message is kept, and waited for by predicate. */
export class Child {
  readonly process: ChildProcess;
  readonly messages: Message[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  private waiters: Array<() => void> = [];

  constructor(script: string, env: Record<string, string> = {}, args: string[] = []) {
    this.process = fork(fixtures + script, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.process.stdout?.resume();
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.process.on('message', (message: Message) => {
      this.messages.push(message);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        for (const wake of this.waiters.splice(0)) wake();
        resolve({ code, signal });
      });
    });
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Resolves with the first message matching `predicate` (earlier ones count too). */
  async next(predicate: (message: Message) => boolean, what: string, timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (!this.alive) throw new Error(`child exited while waiting for ${what}; stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages)}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  event(name: string, extra: (message: Message) => boolean = () => true): Promise<Message> {
    return this.next((m) => m.event === name && extra(m), name);
  }

  phase(name: string): Promise<Message> {
    return this.next((m) => m.event === 'phase' && m.phase === name, `phase ${name}`);
  }

  send(message: unknown): void {
    this.process.send(message as object);
  }

  /** Kills the child if a failed test left it running. */
  async stop(): Promise<void> {
    if (this.alive) this.process.kill('SIGKILL');
    await this.exited;
  }
}
