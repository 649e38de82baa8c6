import net from 'node:net';
import { expect } from 'vitest';
import type { Child } from './child.js';

/** A port that was free a moment ago (the cluster primary owns the listening socket, so it needs a fixed one). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface LoadStats {
  sent: number;
  complete: number;
  truncated: number;
  errorsBeforeBytes: number;
  retryFailures: number;
  errorsAfterBytes: number;
  badStatus: number;
  reusedSockets: number;
  errorCodes: Record<string, number>;
  byPid: Record<string, number>;
}

/** Asks the load process for its counts so far. */
export async function snapshot(load: Child): Promise<LoadStats> {
  const before = load.messages.length;
  load.send({ cmd: 'snapshot' });
  const message = await load.next((m) => m.event === 'snapshot' && load.messages.indexOf(m) >= before, 'load snapshot');
  return message as unknown as LoadStats;
}

/** Waits until the load process has completed `more` requests beyond `from`. */
export async function progress(load: Child, from: number, more: number): Promise<LoadStats> {
  for (;;) {
    const stats = await snapshot(load);
    if (stats.complete >= from + more) return stats;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Stops the load and checks that nothing was lost: no request failed after its
 * retry, none was truncated or errored after bytes, every one completed, and
 * every generation of processes served part of the load.
 */
export async function stopLoadExpectingNothingLost(load: Child, generations: number[][]): Promise<{ final: LoadStats; summary: string }> {
  const before = load.messages.length;
  load.send({ cmd: 'stop' });
  const final = (await load.next((m) => m.event === 'stats' && load.messages.indexOf(m) >= before, 'load stats')) as unknown as LoadStats;
  const summary = JSON.stringify({ ...final, byPid: undefined });
  expect(final.retryFailures, summary).toBe(0);
  expect(final.truncated, summary).toBe(0);
  expect(final.errorsAfterBytes, summary).toBe(0);
  expect(final.badStatus, summary).toBe(0);
  expect(final.complete, summary).toBe(final.sent);
  for (const generation of generations) {
    const served = generation.reduce((sum, pid) => sum + (final.byPid[String(pid)] ?? 0), 0);
    expect(served, `generation ${generation.join(',')}`).toBeGreaterThan(0);
  }
  return { final, summary };
}
