import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import { afterEach } from 'vitest';
import { closeServer, listen, RawClient } from '../helpers/net.js';

/** A node:http server with a drainer: /fast answers, /slow waits for the next release(), /never never answers. */
export interface ObservedServer {
  server: http.Server;
  drainer: Drainer;
  port: number;
  calls: string[];
  release: () => void;
  /** Resolves once `count` handlers of /slow or /never have started. */
  started: (count: number) => Promise<void>;
  close: () => Promise<void>;
}

export async function startServer(options: DrainerOptions = {}): Promise<ObservedServer> {
  const calls: string[] = [];
  const pending: Array<() => void> = [];
  let waiting = 0;
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    calls.push(req.url ?? '');
    if (req.url === '/slow' || req.url === '/never') {
      waiting++;
      for (const wake of waiters.splice(0)) wake();
      if (req.url === '/slow') pending.push(() => res.end('slow'));
      return;
    }
    res.end('fast');
  });
  const drainer = createDrainer(server, options);
  const port = await listen(server);
  return {
    server,
    drainer,
    port,
    calls,
    release: () => {
      for (const answer of pending.splice(0)) answer();
    },
    started: async (count) => {
      while (waiting < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close: async () => {
      for (const answer of pending.splice(0)) answer();
      drainer.dispose();
      await closeServer(server);
    },
  };
}

/**
 * For a test file: `defer(fn)` undoes things after each test (in reverse order),
 * `setup()` starts an ObservedServer and `client()` opens a raw client, both closed after the test.
 */
export function observedServers(): {
  cleanups: Array<() => unknown>;
  setup: (options?: DrainerOptions) => Promise<ObservedServer>;
  client: (port: number) => Promise<RawClient>;
} {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    cleanups,
    async setup(options = {}) {
      const fixture = await startServer(options);
      cleanups.push(fixture.close);
      return fixture;
    },
    async client(port) {
      const c = await RawClient.connect(port);
      cleanups.push(() => c.destroy());
      return c;
    },
  };
}
