import type { DrainerCore } from './core.js';
import type { DrainStats } from './types.js';

/** `drainer.stats()`: the registry's lifetime counters plus a count of the open connections by state, read now. */
export function collectStats(core: DrainerCore): DrainStats {
  const registry = core.registry;
  let idle = 0;
  let active = 0;
  let draining = 0;
  let inFlight = 0;
  for (const connection of registry.connections.values()) {
    inFlight += connection.inFlight;
    if (connection.state === 'draining') draining++;
    else if (connection.state === 'active') active++;
    else idle++;
  }
  // TLS sockets still in their handshake are open (and idle) connections too.
  const handshaking = core.handshaking.size;
  return {
    open: registry.size + handshaking,
    idle: idle + handshaking,
    active,
    draining,
    inFlight,
    accepted: registry.acceptedCount,
    closed: registry.closedCount,
    forcedClosed: registry.forcedCount,
    drained: registry.drainedCount,
    lingering: core.lingering.size,
    unanswered: core.unanswered.total,
    state: core.state,
  };
}
