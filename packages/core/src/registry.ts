import { kConnection } from './connection.js';
import type { Carrier, Connection } from './connection.js';
import type { DrainResult } from './types.js';

/** How many finished drain results are kept, so a repeated drain of a closed connection gets its result. */
const RECENT_RESULTS = 1_024;

/**
 * The open connections of one drainer, keyed by a number (ids read
 * `<drainerId>-<key>` and are made on demand), the lifetime counters that
 * `stats()` reports, and the results of recently finished drains.
 */
export class Registry {
  readonly drainerId: string;
  readonly connections = new Map<number, Connection>();
  private readonly recentResults = new Map<string, DrainResult>();
  seq = 0;
  acceptedCount = 0;
  closedCount = 0;
  forcedCount = 0;
  drainedCount = 0;

  constructor(drainerId: string) {
    this.drainerId = drainerId;
  }

  get size(): number {
    return this.connections.size;
  }

  add(connection: Connection): void {
    this.connections.set(connection.key, connection);
    this.acceptedCount++;
  }

  delete(connection: Connection): void {
    this.connections.delete(connection.key);
    this.closedCount++;
  }

  remember(result: DrainResult): void {
    this.recentResults.set(result.id, result);
    if (this.recentResults.size > RECENT_RESULTS) this.recentResults.delete(this.recentResults.keys().next().value!);
  }

  recentResult(id: string): DrainResult | undefined {
    return this.recentResults.get(id);
  }

  /** Ids read `<drainerId>-<key>`; the registry is keyed by the number. */
  lookup(id: string): Connection | undefined {
    const dash = id.indexOf('-');
    if (dash < 0 || id.slice(0, dash) !== this.drainerId) return undefined;
    const connection = this.connections.get(Number(id.slice(dash + 1)));
    return connection !== undefined && connection.id === id ? connection : undefined;
  }

  /** The open connection of a socket, session, stream, request or response; undefined if not ours. */
  find(target: unknown): Connection | undefined {
    if (target === null || typeof target !== 'object') return undefined;
    const candidate = target as Carrier & {
      socket?: Carrier | null;
      req?: { socket?: Carrier | null };
      stream?: { session?: Carrier } | null;
      session?: Carrier | null;
    };
    // Own mark first (socket, session, stream); then a request's or response's
    // socket (for an Http2ServerRequest a proxy forwarding to the real socket);
    // a finished response has left its socket but its request has not.
    const connection =
      candidate[kConnection] ??
      candidate.socket?.[kConnection] ??
      candidate.req?.socket?.[kConnection] ??
      candidate.stream?.session?.[kConnection] ??
      candidate.session?.[kConnection];
    return connection && this.connections.get(connection.key) === connection ? connection : undefined;
  }
}
