import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { kConnection } from './connection.js';
import type { Carrier } from './connection.js';
import type { DrainerCore } from './core.js';

/**
 * The server's 'upgrade' emit (WebSocket and any other upgrade): the
 * connection becomes 'upgraded' and its drain is left to upgraded-drain.ts
 * (the user's onUpgradedDrain hook, or a plain end()).
 */

/** Routed here by interception.ts. Node emits 'upgrade' with (req, socket, head). */
export function onUpgrade(core: DrainerCore, req: IncomingMessage, socket: Duplex, head: unknown): boolean {
  const connection = (req.socket as Carrier | null)?.[kConnection];
  // An upgrade request that raced the FIN of a released connection: never dispatched (see http1-dispatch.ts).
  if (connection?.state === 'closed' && core.lingering.has(connection)) return true;
  if (connection && connection.state !== 'closed') {
    connection.protocol = 'upgraded';
    connection.upgradedSocket = socket;
    connection.requestsServed++;
    connection.lastActiveAt = Date.now();
    connection.state = connection.task ? 'draining' : 'active';
  }
  const handled = core.originalEmit.call(core.server, 'upgrade', req, socket, head);
  // Draining already (a head was arriving when the drain began): wind the new upgrade down at once.
  if (connection?.task && connection.state !== 'closed') core.strategies.upgraded.begin(connection, connection.task, Date.now());
  return handled;
}
