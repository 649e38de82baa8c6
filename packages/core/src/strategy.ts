import type net from 'node:net';
import type { Connection, DeferringOperation, DrainTask } from './connection.js';
import type { ConnectionInfo, DrainLogger, UpgradedDrainHook } from './types.js';

export interface ResolvedSettings {
  timeoutMs: number;
  idleGraceMs: number;
  lingerMs: number;
  goawayPingTimeoutMs: number;
  maxConnectionAgeMs: number;
  maxConnectionAgeJitter: number;
  maxRequestsPerConnection: number;
  shutdownDelayMs: number;
  logger: DrainLogger | undefined;
}

/** What a protocol strategy may ask of the drainer. */
export interface StrategyHost {
  readonly settings: ResolvedSettings;
  readonly server: net.Server;
  /** The task's `wakeAt` moved: make its operations' timers fire in time. */
  reschedule(task: DrainTask): void;
  /** Re-examine a draining connection now (deadline, release, timers). */
  advance(task: DrainTask, now: number): void;
  upgradedHook(): UpgradedDrainHook | undefined;
  warn(obj: object, msg: string): void;
  /** True once `dispose()` ran: nothing may be closed any more. */
  isDisposed(): boolean;
  /** Connections put off by `operation` were closed before they had tasks: record them as drained (closing.ts closedBeforeTask). */
  closedBeforeTask(connections: readonly Connection[], operation: DeferringOperation, now: number): void;
}

/**
 * How one protocol winds a connection down. `begin` runs once when the drain
 * starts; `advance` whenever something changed or a wake time passed; `force`
 * at the deadline. None of them may throw.
 */
export interface ProtocolStrategy {
  begin(connection: Connection, task: DrainTask, now: number): void;
  advance(connection: Connection, task: DrainTask, now: number): void;
  force(connection: Connection, task: DrainTask): void;
  /**
   * Before a task is made: true when the strategy puts the connection off
   * (`connection.deferredBy`) and starts its task later in this loop turn
   * (HTTP/1.1 idle connections: the long-idle ones are closed first, accounted after).
   */
  deferStart?(connection: Connection, operation: DeferringOperation): boolean;
}

export type { ConnectionInfo };
