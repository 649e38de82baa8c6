import type { ServerResponse } from 'node:http';
import type net from 'node:net';
import { closedBeforeTask } from './closing.js';
import type { Connection, ConnectionOwner, DeferringOperation, DrainTask } from './connection.js';
import { socketClosed } from './connection-tracking.js';
import type { DrainerCore } from './core.js';
import { abortConnection, advance, drainingError, reschedule, startTask } from './drain-control.js';
import type { DEFERRED, DrainOperation, OperationHost } from './drain.js';
import { reachesNodeDetachSocket, responseFinished } from './http1-dispatch.js';
import type { ResolvedSettings, StrategyHost } from './strategy.js';
import type { DrainResult, UpgradedDrainHook } from './types.js';

/**
 * What the internal modules call back through: a connection's owner, a drain
 * operation's host, a protocol strategy's host. One method each, delegating
 * to the module that does the work (ARCHITECTURE.md).
 */
export class DrainerHost implements ConnectionOwner, OperationHost, StrategyHost {
  /** Set right after the core is made (the core is made with its host). */
  core!: DrainerCore;
  readonly nodeDetachSocket: boolean;

  constructor(
    readonly drainerId: string,
    readonly settings: ResolvedSettings,
    readonly server: net.Server,
  ) {
    this.nodeDetachSocket = reachesNodeDetachSocket(server);
  }

  /** ConnectionOwner: the connection's socket emitted 'close'. */
  socketClosed(connection: Connection): void {
    socketClosed(this.core, connection);
  }

  /** ConnectionOwner: the HTTP/1.1 response in flight finished. */
  responseFinished(connection: Connection, res: ServerResponse, written: boolean): void {
    responseFinished(this.core, connection, res, written);
  }

  /** OperationHost: start or join the drain of one connection. */
  startTask(connection: Connection, operation: DrainOperation, now: number, deferrable: boolean): DrainTask | undefined | typeof DEFERRED {
    return startTask(this.core, connection, operation, now, deferrable);
  }

  /** OperationHost and StrategyHost: re-examine a draining connection. */
  advance(task: DrainTask, now: number): void {
    advance(this.core, task, now);
  }

  /** OperationHost: put off the start of the idle HTTP/1.1 connections among `connections`. */
  deferAll(connections: Connection[], operation: DrainOperation, polled: boolean): number {
    return this.core.strategies['http/1.1'].deferAll(connections, operation, polled);
  }

  /** OperationHost: record what deferAll() closed in its pass. */
  recordClosedAtOnce(): void {
    this.core.strategies['http/1.1'].recordClosedAtOnce();
  }

  /** OperationHost: one connection of a batch or shutdown drain is done. */
  progress(operation: DrainOperation, result: DrainResult, remaining: number): void {
    this.core.diagnostics.drainProgress(operation, result, remaining);
  }

  /** OperationHost: several connections of a batch or shutdown drain are done. */
  progressAll(operation: DrainOperation, results: readonly DrainResult[], remainingBefore: number): void {
    this.core.diagnostics.drainProgressAll(operation, results, remainingBefore);
  }

  /** StrategyHost: the task's wake time moved. */
  reschedule(task: DrainTask): void {
    reschedule(task);
  }

  /** StrategyHost: the onUpgradedDrain hook, if any. */
  upgradedHook(): UpgradedDrainHook | undefined {
    return this.core.upgradedDrainHook;
  }

  /** StrategyHost: a connection put off by `operation` was closed before it had a task. */
  closedBeforeTask(connections: readonly Connection[], operation: DeferringOperation, now: number): void {
    for (const connection of connections) {
      if (connection.abortController !== undefined || connection.requestSignals !== undefined) abortConnection(connection, drainingError);
    }
    operation.closedDeferred(closedBeforeTask(this.core, connections, operation.startedAt, operation.settings.reason, now), now);
  }

  /** StrategyHost: true once dispose() ran. */
  isDisposed(): boolean {
    return this.core.disposed;
  }

  /** StrategyHost: log a warning through the configured logger. */
  warn(obj: object, msg: string): void {
    this.core.diagnostics.warn(obj, msg);
  }
}
