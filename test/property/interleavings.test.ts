import http from 'node:http';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { DrainResult } from '@drainkit/core';
import { closeServer, get, listen, RawClient } from '../helpers/net.js';

// Random interleavings of client and drain actions on a real server over real
// sockets; after each sequence and a shutdown, the invariants of the issue hold.

type Action =
  | { t: 'connect' }
  | { t: 'request'; c: number; fast: boolean }
  | { t: 'pipeline'; c: number; n: number }
  | { t: 'abort'; c: number }
  | { t: 'drainOne'; c: number }
  | { t: 'drainAll' }
  | { t: 'complete'; k: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Action>({ t: 'connect' }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('request' as const), c: fc.nat(7), fast: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('pipeline' as const), c: fc.nat(7), n: fc.integer({ min: 2, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), c: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('drainOne' as const), c: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.constant<Action>({ t: 'drainAll' }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('complete' as const), k: fc.nat(7) }) },
);

/** Timers drainkit itself created (by call site) and that have neither fired nor been cleared. */
const liveDrainkitTimers = new Set<unknown>();
/** How many drainkit timers were seen at all: proves the counting sees drainkit's call sites. */
let drainkitTimersSeen = 0;
const original = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, setInterval: globalThis.setInterval, clearInterval: globalThis.clearInterval };
const fromDrainkit = (): boolean => /packages[\\/]core[\\/]src/.test(new Error().stack ?? '');

beforeEach(() => {
  // A counting approach: unref'd timers do not show in process.getActiveResourcesInfo().
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const tracked = fromDrainkit();
    const timer = original.setTimeout(
      (...inner: unknown[]) => {
        liveDrainkitTimers.delete(timer);
        callback(...inner);
      },
      ms,
      ...args,
    );
    if (tracked) {
      liveDrainkitTimers.add(timer);
      drainkitTimersSeen++;
    }
    return timer;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((timer: NodeJS.Timeout | undefined) => {
    liveDrainkitTimers.delete(timer);
    original.clearTimeout(timer);
  }) as typeof clearTimeout;
  globalThis.setInterval = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = original.setInterval(callback, ms, ...args);
    if (fromDrainkit()) {
      liveDrainkitTimers.add(timer);
      drainkitTimersSeen++;
    }
    return timer;
  }) as typeof setInterval;
  globalThis.clearInterval = ((timer: NodeJS.Timeout | undefined) => {
    liveDrainkitTimers.delete(timer);
    original.clearInterval(timer);
  }) as typeof clearInterval;
});

afterEach(() => {
  Object.assign(globalThis, original);
});

/** Lets a few turns of the event loop pass, so bytes written on loopback reach the other side. */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = original.setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    original.clearTimeout(timer);
  }
}

interface Dispatched {
  clientPort: number;
  finished: boolean;
  closed: boolean;
}

async function runSequence(actions: Action[]): Promise<void> {
  const dispatched = new Map<string, Dispatched>();
  const pending: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const id = (req.url ?? '').slice(3);
    const entry: Dispatched = { clientPort: req.socket.remotePort ?? -1, finished: false, closed: false };
    expect(dispatched.has(id), `request ${id} dispatched twice`).toBe(false);
    dispatched.set(id, entry);
    res.on('finish', () => (entry.finished = true));
    res.on('close', () => (entry.closed = true));
    const answer = (): void => void res.end(`done ${id}|`);
    if (req.url?.startsWith('/f/')) answer();
    else pending.push(answer);
  });
  const drainer = createDrainer(server, { lingerMs: 100, timeoutMs: 2_000 });
  const results: DrainResult[] = [];
  const serverIdByClientPort = new Map<number, string>();
  drainer.on('connection:drained', (result) => results.push(result));
  drainer.on('connection:open', ({ connection }) => serverIdByClientPort.set(connection.remotePort ?? -1, connection.id));
  const port = await listen(server);

  const clients: RawClient[] = [];
  const sentByPort = new Map<number, number>();
  const abortedPorts = new Set<number>();
  const drains: Array<Promise<unknown>> = [];
  let seq = 0;
  try {
    for (const action of actions) {
      const client = 'c' in action && clients.length > 0 ? clients[action.c % clients.length] : undefined;
      const live = client !== undefined && !client.socket.destroyed && !client.ended;
      switch (action.t) {
        case 'connect':
          clients.push(await RawClient.connect(port));
          break;
        case 'request':
        case 'pipeline':
          if (live) {
            const n = action.t === 'pipeline' ? action.n : 1;
            const fast = action.t === 'request' ? action.fast : false;
            let text = '';
            for (let i = 0; i < n; i++) text += get(`/${fast || i % 2 === 1 ? 'f' : 's'}/${++seq}`);
            client.write(text);
            const localPort = client.socket.localPort ?? -1;
            sentByPort.set(localPort, (sentByPort.get(localPort) ?? 0) + n);
          }
          break;
        case 'abort':
          if (live) {
            abortedPorts.add(client.socket.localPort ?? -1);
            client.destroy();
          }
          break;
        case 'drainOne': {
          const id = client ? serverIdByClientPort.get(client.socket.localPort ?? -1) : undefined;
          if (id !== undefined && drainer.get(id)) drains.push(drainer.drainConnection(id, { timeoutMs: 1_000 }));
          break;
        }
        case 'drainAll':
          drains.push(drainer.drain(undefined, { timeoutMs: 1_000, concurrency: 2 }));
          break;
        case 'complete':
          if (pending.length > 0) pending.splice(action.k % pending.length, 1)[0]!();
          break;
      }
      await turns();
    }
    // Handlers never completed stay pending: the shutdown deadline forces them.
    const report = await withDeadline(drainer.shutdown({ timeoutMs: 300 }), 5_000, 'shutdown');
    await withDeadline(Promise.all(drains), 5_000, 'the drains started during the sequence');
    for (const answer of pending.splice(0)) answer();
    await withDeadline(Promise.all(clients.map((c) => c.closed)), 5_000, 'every client socket to close');
    // The server's side too, lingering sockets included (lingerMs 100 bounds their wait).
    await withDeadline(drainer.socketsClosed(), 5_000, 'every server socket to close');
    expect(drainer.stats().lingering).toBe(0);

    // Registry empty, stats consistent.
    const stats = drainer.stats();
    expect(drainer.connections()).toEqual([]);
    expect(stats.open).toBe(0);
    expect(stats.accepted).toBe(stats.closed);
    expect(stats.accepted).toBe(clients.length);
    expect(stats.drained + stats.forcedClosed).toBeLessThanOrEqual(stats.closed);
    expect(report.total).toBe(report.closed + report.forced);

    // Every request answered on the wire was dispatched, exactly once.
    const answered = new Set<string>();
    for (const client of clients) for (const match of client.data.matchAll(/done (\d+)\|/g)) answered.add(match[1]!);
    for (const id of answered) expect(dispatched.get(id)?.finished, `answered ${id} without a finished dispatch`).toBe(true);

    // No request both dropped and dispatched: per connection, dispatched + dropped ≤ sent.
    const resultById = new Map(results.map((r) => [r.id, r]));
    for (const [clientPort, serverId] of serverIdByClientPort) {
      const sent = sentByPort.get(clientPort) ?? 0;
      const dispatchedHere = [...dispatched.values()].filter((d) => d.clientPort === clientPort);
      const result = resultById.get(serverId);
      const dropped = result?.droppedRequests ?? 0;
      expect(dispatchedHere.length + dropped, `connection ${serverId}: dispatched ${dispatchedHere.length} + dropped ${dropped} > sent ${sent}`).toBeLessThanOrEqual(sent);
      if (result) {
        expect(result.completedRequests + result.abortedRequests).toBeLessThanOrEqual(dispatchedHere.length);
        // A request cut short that the client did not abort itself is reported as forced.
        const cutShort = dispatchedHere.filter((d) => !d.finished).length;
        if (!abortedPorts.has(clientPort) && cutShort > 0) expect(result.forced || result.abortedRequests > 0, `connection ${serverId}: ${cutShort} unfinished, not reported`).toBe(true);
      }
    }
    // Every dispatched request finished, or its connection was forced, or its client aborted.
    for (const [id, d] of dispatched) {
      const result = resultById.get(serverIdByClientPort.get(d.clientPort) ?? '');
      expect(d.finished || abortedPorts.has(d.clientPort) || result?.forced === true, `request ${id} neither answered nor reported`).toBe(true);
    }

    // No drainkit timer left behind.
    expect(liveDrainkitTimers.size).toBe(0);
  } finally {
    for (const answer of pending.splice(0)) answer();
    for (const client of clients) client.destroy();
    drainer.dispose();
    await closeServer(server);
    liveDrainkitTimers.clear();
  }
}

describe('property: random interleavings of clients, handlers and drains', () => {
  it('leaves every socket closed, the registry empty, stats consistent and no timer behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 24 }), (actions) => runSequence([{ t: 'connect' }, ...actions])),
      { numRuns: 40, endOnFailure: true },
    );
    expect(drainkitTimersSeen).toBeGreaterThan(0);
  }, 60_000);
});
