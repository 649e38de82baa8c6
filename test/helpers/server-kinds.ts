import type net from 'node:net';
import type { Drainer } from '@drainkit/core';
import { closeServer } from './net.js';

/**
 * One server kind (plain http, https, h2, Express, Koa, Nest...) for the
 * shared drain suite in test/shared/drain-suite.test.ts, which runs the same
 * drain behaviours against every kind, as http-terminator's createTests does.
 *
 * Each file in test/kinds/ default-exports a ServerKind (or an array of them);
 * the suite picks them up with import.meta.glob, so adding a kind is adding a file.
 *
 * Every kind serves the same routes with its own framework's idioms:
 *   GET /fast  -> 200 "fast"
 *   GET /slow  -> waits for release(), then 200 "slow done"
 * and records the path of every request that reached application code in `calls`.
 */
export interface KindApp {
  port: number;
  drainer: Drainer;
  /** Paths that reached the application (route handler / middleware). */
  calls: string[];
  /** Lets every waiting /slow handler respond. */
  release(): void;
  /** Resolves when a /slow handler has started (the next one after each call). */
  slowStarted(): Promise<void>;
  close(): Promise<void>;
}

export interface ServerKind {
  name: string;
  /** What the suite's client speaks to it. */
  protocol: 'http/1.1' | 'h2';
  secure: boolean;
  start(): Promise<KindApp>;
}

/** Shared bookkeeping for a kind's /slow route. */
export function slowGate(): { calls: string[]; release(): void; slowStarted(): Promise<void>; enterSlow(path: string): Promise<void> } {
  const calls: string[] = [];
  let released = false;
  const waiters: Array<() => void> = [];
  const startWaiters: Array<() => void> = [];
  return {
    calls,
    release() {
      released = true;
      for (const wake of waiters.splice(0)) wake();
    },
    slowStarted() {
      return new Promise<void>((resolve) => startWaiters.push(resolve));
    },
    enterSlow(path: string) {
      calls.push(path);
      for (const wake of startWaiters.splice(0)) wake();
      if (released) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/**
 * The KindApp of a kind whose server is already listening: `close()` releases
 * the /slow handlers, disposes of the drainer, runs `extraClose` (an h2 kind
 * destroys its sessions there) and closes the server.
 */
export function kindApp(server: net.Server, drainer: Drainer, gate: ReturnType<typeof slowGate>, extraClose?: () => void): KindApp {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('kindApp(server): the server must be listening on a TCP port');
  return {
    port: address.port,
    drainer,
    calls: gate.calls,
    release: gate.release,
    slowStarted: gate.slowStarted,
    async close() {
      gate.release();
      drainer.dispose();
      extraClose?.();
      await closeServer(server);
    },
  };
}

/** The kind's routes as a (req, res) listener: for node:http, node:https and the http2 compatibility API. */
export function slowOrFastListener(gate: ReturnType<typeof slowGate>): (req: { url?: string | undefined }, res: { end(body: string): unknown }) => void {
  return (req, res) => {
    if (req.url === '/slow') {
      void gate.enterSlow('/slow').then(() => res.end('slow done'));
      return;
    }
    gate.calls.push(req.url ?? '');
    res.end('fast');
  };
}
