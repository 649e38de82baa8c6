import type { DrainError } from './errors.js';
import type { ConnectionInfo, DrainKind, DrainReport, DrainResult } from './types.js';

export interface ConnectionOpenEvent {
  connection: ConnectionInfo;
}

export interface ConnectionCloseEvent {
  connection: ConnectionInfo;
  /** True when a drain deadline destroyed it. */
  forced: boolean;
}

export interface DrainStartEvent {
  kind: DrainKind;
  ids: string[];
  total: number;
  reason: string | undefined;
}

export interface DrainProgressEvent {
  kind: DrainKind;
  remaining: number;
  total: number;
  /** The connection whose drain just finished. */
  result: DrainResult;
}

/**
 * In this order. 'delay-elapsed' (with `shutdownDelayMs`) and
 * 'before-shutdown-done' (with `beforeShutdown()` hooks) come in either order,
 * both before 'listener-closed'. 'sockets-closed': every socket has closed,
 * lingering ones included; it comes after 'cleanup-done', once the last
 * lingering socket closed.
 */
export type ShutdownPhase = 'readiness-failed' | 'delay-elapsed' | 'before-shutdown-done' | 'listener-closed' | 'drained' | 'cleanup-done' | 'sockets-closed';

export interface ShutdownPhaseEvent {
  phase: ShutdownPhase;
  at: number;
  report?: DrainReport;
}

export interface CleanupErrorEvent {
  name: string;
  /** `ERR_DRAIN_CLEANUP_FAILED`, with the hook's own error as `cause`. */
  error: DrainError;
  /** Which hook failed: a `beforeShutdown()` hook (before the listener closed) or an `onShutdown()` cleanup (after the drain). */
  stage: 'before-shutdown' | 'cleanup';
}

/** The drainer's events and their single payload argument. */
export interface DrainerEvents {
  'connection:open': ConnectionOpenEvent;
  'connection:close': ConnectionCloseEvent;
  'connection:drained': DrainResult;
  'drain:start': DrainStartEvent;
  'drain:progress': DrainProgressEvent;
  'drain:end': DrainReport;
  'shutdown:phase': ShutdownPhaseEvent;
  'cleanup:error': CleanupErrorEvent;
}

export type DrainerEventName = keyof DrainerEvents;
export type DrainerListener<E extends DrainerEventName> = (payload: DrainerEvents[E]) => void;
