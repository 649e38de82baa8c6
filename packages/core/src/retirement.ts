import type { Connection } from './connection.js';
import type { DrainerCore } from './core.js';
import { drainOne, runOperation } from './drain-control.js';

/**
 * Rebalancing: a connection past `maxRequestsPerConnection` or its
 * (jittered) `maxConnectionAgeMs` drains gracefully with the default timeout,
 * so clients reconnect and spread over the instances.
 */

/** When the connection retires by age (0: never), jittered so connections opened together do not retire together. */
export function retireAtFor(core: DrainerCore, now: number): number {
  const { maxConnectionAgeMs, maxConnectionAgeJitter } = core.settings;
  return maxConnectionAgeMs > 0 ? now + maxConnectionAgeMs * (1 + maxConnectionAgeJitter * (2 * Math.random() - 1)) : 0;
}

/**
 * Checked on activity, as a request or stream is dispatched (it counts in
 * `inFlight`): past the request cap or its age, the connection drains
 * gracefully and this request is its last.
 */
export function retireIfDue(core: DrainerCore, connection: Connection): void {
  if (connection.task !== undefined) return;
  const max = core.settings.maxRequestsPerConnection;
  if (max > 0 && connection.requestsServed + connection.inFlight >= max) retire(core, connection, 'max-requests');
  else if (connection.retireAt !== 0 && Date.now() >= connection.retireAt) retire(core, connection, 'max-connection-age');
}

function retire(core: DrainerCore, connection: Connection, reason: string): void {
  drainOne(core, connection, core.settings.timeoutMs, reason);
}

/** One shared sweep for connection age, never a timer per connection. */
export function startAgeSweep(core: DrainerCore): void {
  const period = Math.min(1_000, Math.max(10, Math.floor(core.settings.maxConnectionAgeMs / 10)));
  core.sweepTimer = setInterval(() => {
    if (core.state !== 'serving') return;
    const now = Date.now();
    const due: Connection[] = [];
    for (const connection of core.registry.connections.values()) {
      if (!connection.task && connection.retireAt !== 0 && now >= connection.retireAt) due.push(connection);
    }
    // The connections due at one sweep drain as one operation: one timer between them, not one each.
    if (due.length === 1) retire(core, due[0]!, 'max-connection-age');
    else if (due.length > 1) {
      runOperation(core, 'batch', due, { timeoutMs: core.settings.timeoutMs, concurrency: Infinity, spreadMs: 0, reason: 'max-connection-age' });
    }
  }, period);
  core.sweepTimer.unref();
}

export function stopAgeSweep(core: DrainerCore): void {
  if (core.sweepTimer) clearInterval(core.sweepTimer);
}
