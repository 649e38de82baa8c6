import net from 'node:net';
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
