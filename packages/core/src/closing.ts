import { drainResult } from './connection.js';
import type { Connection } from './connection.js';
import type { DrainerCore } from './core.js';
import type { DrainResult } from './types.js';

/**
 * The connection is over for HTTP: its socket closed, or (released) it has
 * sent its last response and its FIN and only lingers for the client's.
 * It leaves the registry; a drain waiting on it settles.
 */
export function closeConnection(core: DrainerCore, connection: Connection, now: number): void {
  const registry = core.registry;
  connection.state = 'closed';
  registry.delete(connection);
  const task = connection.task;
  let forced = false;
  if (task && !task.result) {
    forced = task.forced;
    const dropped = (connection.held?.length ?? 0) + connection.heldDropped;
    if (dropped > 0) {
      task.droppedRequests += dropped;
      core.unanswered.count(dropped, 'held', connection.id);
    }
    if (forced) {
      registry.forcedCount++;
      task.abortedRequests += connection.inFlight;
      core.diagnostics.warn(
        { connectionId: connection.id, remoteAddress: connection.remoteAddress, inFlight: connection.inFlight },
        'drainkit: connection force-closed at drain deadline',
      );
    } else {
      registry.drainedCount++;
    }
    const result = task.settle(now);
    registry.remember(result);
    core.diagnostics.connectionDrained(result);
  }
  connection.held = undefined;
  connection.heldDropped = 0;
  connection.currentResponse = undefined;
  core.diagnostics.connectionClosed(connection, forced);
}

/** What a connection closed at once before its drain had a task reports (http1-drain.ts closeDeferred). */
const CLOSED_IDLE = { forced: false, completedRequests: 0, droppedRequests: 0, abortedRequests: 0 };

/**
 * Long-idle connections one operation put off and closed before their drains
 * had tasks (http1-drain.ts deferAll, closeDeferred): closeConnection()'s
 * bookkeeping and the results tasks would have settled with, without the tasks.
 * In one loop, since a shutdown closes 10,000 at once and this is the server's
 * work after the last FIN: one call chain per connection, run cold (mostly
 * unoptimized code), cost ~4-5 µs each (Node 20.20, 10,000 idle connections).
 * With nobody listening for the connections' ends, the registry drops them in
 * one go (a clear() when they are all of it: a Map shrinks as it is emptied one
 * delete at a time).
 */
export function closedBeforeTask(
  core: DrainerCore,
  connections: readonly Connection[],
  startedAt: number,
  reason: string | undefined,
  now: number,
): DrainResult[] {
  const registry = core.registry;
  const diagnostics = core.diagnostics;
  const announce = diagnostics.wantsConnectionEnds();
  const durationMs = now - startedAt;
  const results: DrainResult[] = [];
  if (!announce) registry.deleteAll(connections);
  for (const connection of connections) {
    connection.state = 'closed';
    const result = drainResult(connection, CLOSED_IDLE, reason, durationMs);
    results.push(result);
    registry.remember(result);
    if (announce) {
      registry.delete(connection);
      diagnostics.connectionDrained(result);
      diagnostics.connectionClosed(connection, false);
    }
  }
  registry.drainedCount += connections.length;
  if (core.listenerClosed) maybeAllClosed(core);
  return results;
}

/** True once shutdown has closed the listener and no socket is open or lingers. */
export function allClosedNow(core: DrainerCore): boolean {
  return core.listenerClosed && core.lingering.size === 0 && core.registry.size === 0;
}

/** After shutdown: resolves `socketsClosed()` once the listener is closed and no socket is open or lingers. */
export function maybeAllClosed(core: DrainerCore): void {
  if (!allClosedNow(core)) return;
  core.socketsClosedWaiter?.resolve();
  core.socketsClosedWaiter = undefined;
  if (core.state === 'closed' && !core.socketsClosedAnnounced) {
    core.socketsClosedAnnounced = true;
    core.diagnostics.phase('sockets-closed', core.shutdownReport);
  }
}

export function socketsClosed(core: DrainerCore): Promise<void> {
  if (allClosedNow(core)) return Promise.resolve();
  core.socketsClosedWaiter ??= deferred();
  return core.socketsClosedWaiter.promise;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
