import { DrainTask } from './connection.js';
import type { Connection } from './connection.js';
import type { DrainerCore } from './core.js';
import { DEFERRED, DrainOperation } from './drain.js';
import type { OperationSettings } from './drain.js';
import { DrainError, DrainErrorCodes } from './errors.js';
import { releaseIfDone } from './lingering-close.js';
import { abortRequestSignals } from './request-signals.js';
import type { DrainReport } from './types.js';

/**
 * How one connection's drain starts and moves on: the task shared by every
 * operation that asked for it, the protocol strategy (http1-drain,
 * http2-drain, upgraded-drain) that winds it down, the deadline that forces
 * it, and the hand-over to the lingering close once its FIN is out.
 */

/** One drain call over `connections` (DrainOperation), announced in events and logs unless it joins one already announced. */
export function runOperation(
  core: DrainerCore,
  kind: 'connection' | 'batch',
  connections: Connection[],
  settings: OperationSettings,
  announce = true,
): Promise<DrainReport> {
  const now = Date.now();
  const operation = new DrainOperation(core.host, kind, connections, settings, now);
  if (announce) core.diagnostics.drainStarted(operation);
  // A drain that was not announced (joining one in progress, a late connection) is not announced as ended either.
  return operation.start(now).then((report) => (announce ? core.diagnostics.drainEnded(report) : report));
}

/** One connection as its own operation (announce: false for one that joins a drain already announced). */
export function drainOne(core: DrainerCore, connection: Connection, timeoutMs: number, reason: string | undefined, announce = true): Promise<DrainReport> {
  return runOperation(core, 'connection', [connection], { timeoutMs, concurrency: 1, spreadMs: 0, reason }, announce);
}

/** OperationHost: start or join the drain of one connection. */
export function startTask(
  core: DrainerCore,
  connection: Connection,
  operation: DrainOperation,
  now: number,
  deferrable: boolean,
): DrainTask | undefined | typeof DEFERRED {
  if (connection.state === 'closed') return undefined;
  const deadlineAt = now + operation.settings.timeoutMs;
  let task = connection.task;
  if (task) {
    task.operations.push(operation);
    if (deadlineAt < task.deadlineAt) {
      task.deadlineAt = deadlineAt;
      if (now >= deadlineAt) advance(core, task, now);
    }
    return task;
  }
  const strategy = core.strategies[connection.protocol];
  if (deferrable && strategy.deferStart?.(connection, operation)) return DEFERRED;
  task = new DrainTask(connection, now, deadlineAt, operation.settings.reason);
  task.operations.push(operation);
  connection.task = task;
  connection.state = 'draining';
  abortConnection(connection, drainingError);
  strategy.begin(connection, task, now);
  if (now >= deadlineAt) advance(core, task, now);
  else releaseIfDone(core, task, now);
  return task;
}

/** Re-examine a draining connection: its deadline, then its strategy's next step. */
export function advance(core: DrainerCore, task: DrainTask, now: number): void {
  const connection = task.connection;
  if (task.result || connection.state === 'closed') return;
  const strategy = core.strategies[connection.protocol];
  if (now >= task.deadlineAt) {
    // Node caches the peer address once read: read it while the socket is open, for the forced-close log line.
    if (core.settings.logger) void connection.socket.remoteAddress;
    strategy.force(connection, task);
    return;
  }
  strategy.advance(connection, task, now);
  if (!releaseIfDone(core, task, now)) reschedule(task);
}

/**
 * Another drain of a connection already draining: it shares the task, and a
 * shorter deadline lowers the task's (a longer one never raises it). O(1): the
 * task's operations' timers are re-armed, no operation or timer is added.
 */
export function joinTask(core: DrainerCore, task: DrainTask, deadlineAt: number): void {
  if (task.result || deadlineAt >= task.deadlineAt) return;
  task.deadlineAt = deadlineAt;
  const now = Date.now();
  if (now >= deadlineAt) advance(core, task, now);
  else reschedule(task);
}

/** The task's `wakeAt` moved: make its operations' timers fire in time. */
export function reschedule(task: DrainTask): void {
  for (const operation of task.operations) operation.schedule(task.nextCheckAt);
}

export function drainingError(): DrainError {
  return new DrainError(DrainErrorCodes.CONNECTION_DRAINING, 'The connection is draining');
}

export function shuttingDownError(): DrainError {
  return new DrainError(DrainErrorCodes.SHUTTING_DOWN, 'The server is shutting down');
}

/** Aborts the connection's `signalFor()` signals, if any were handed out: its own and its requests' in flight. */
export function abortConnection(connection: Connection, reason: () => DrainError): void {
  const controller = connection.abortController;
  if (controller && !controller.signal.aborted) controller.abort(reason());
  abortRequestSignals(connection.requestSignals, reason);
}
