import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { DrainResult } from '@drainkit/core';
import { closeServer, listen, RawClient, until } from '../helpers/net.js';

// drain(filter, { spreadMs }) starts the drains evenly over spreadMs, so the
// clients of a drained batch do not all reconnect at the same instant.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function idleConnections(count: number) {
  const server = http.createServer((_req, res) => res.end('ok'));
  // idleGraceMs 0: these connections were opened just now; the subject is when each drain starts.
  const drainer = createDrainer(server, { idleGraceMs: 0 });
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    await closeServer(server);
  });
  const clients = await Promise.all(Array.from({ length: count }, () => RawClient.connect(port)));
  cleanups.push(() => {
    for (const c of clients) c.destroy();
  });
  await until(() => drainer.connections().length === count);
  /** When each drain started, from the connection:drained results (closed at `now`, after `durationMs`). */
  const startTimes: number[] = [];
  drainer.on('connection:drained', (result: DrainResult) => startTimes.push(Date.now() - result.durationMs));
  return { drainer, clients, startTimes };
}

describe('drain(filter, { spreadMs })', () => {
  it('starts the drains evenly over spreadMs', async () => {
    const { drainer, clients, startTimes } = await idleConnections(10);
    const startedAt = Date.now();
    const report = await drainer.drain(undefined, { spreadMs: 500 });
    const totalMs = Date.now() - startedAt;
    expect(report).toMatchObject({ total: 10, closed: 10, forced: 0 });
    const offsets = startTimes.map((t) => t - startedAt).sort((a, b) => a - b);
    // Drain i of n starts at spreadMs * i / n: 0, 50, ..., 450 ms: never early (all at once would fail
    // that), and not late by more than a loaded machine's timer lag (+40 ms was exceeded by 1 ms once).
    offsets.forEach((offset, i) => {
      expect(offset).toBeGreaterThanOrEqual(i * 50 - 2);
      expect(offset).toBeLessThan(i * 50 + 90);
    });
    expect(totalMs).toBeGreaterThanOrEqual(440);
    expect(totalMs).toBeLessThan(1_000);
    await Promise.all(clients.map((c) => c.closed));
    // The clients saw their connections end one by one, not together.
    const ends = clients.map((c) => c.endedAt).sort((a, b) => a - b);
    expect(ends[ends.length - 1]! - ends[0]!).toBeGreaterThanOrEqual(400);
  });

  it('without spreadMs, every drain starts at once', async () => {
    const { drainer, startTimes } = await idleConnections(10);
    const startedAt = Date.now();
    await drainer.drain(undefined, {});
    // In one pass: together (a spread would put 500 ms between the first and the last), and in the call.
    expect(Math.max(...startTimes) - Math.min(...startTimes)).toBeLessThan(30);
    expect(Math.min(...startTimes) - startedAt).toBeLessThan(100);
  });

  it('combines with concurrency: never more than `concurrency` draining, still spread', async () => {
    const { drainer, startTimes } = await idleConnections(6);
    let peak = 0;
    const check = setInterval(() => {
      peak = Math.max(peak, drainer.stats().draining);
    }, 1);
    const startedAt = Date.now();
    const report = await drainer.drain(undefined, { spreadMs: 300, concurrency: 2 });
    clearInterval(check);
    expect(report.closed).toBe(6);
    expect(peak).toBeLessThanOrEqual(2);
    const offsets = startTimes.map((t) => t - startedAt).sort((a, b) => a - b);
    expect(offsets[5]!).toBeGreaterThanOrEqual(250 - 2);
  });

  it('shutdown drains everything at once (spreading is for batch drains)', async () => {
    const { drainer, startTimes } = await idleConnections(5);
    const report = await drainer.shutdown();
    expect(report.closed).toBe(5);
    // In one pass, once the listener is closed (a few loop turns: 44 ms after the call once on a loaded CI box).
    expect(Math.max(...startTimes) - Math.min(...startTimes)).toBeLessThan(30);
  });

  it('rejects a negative spreadMs with a DrainError', async () => {
    const { drainer } = await idleConnections(1);
    await expect(drainer.drain(undefined, { spreadMs: -1 })).rejects.toMatchObject({ code: 'ERR_DRAIN_INVALID_OPTION' });
  });
});
