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
 * In this order. 'sockets-closed': every socket has closed, lingering ones
 * included; it comes after 'cleanup-done', once the last lingering socket closed.
 */
export type ShutdownPhase = 'readiness-failed' | 'delay-elapsed' | 'listener-closed' | 'drained' | 'cleanup-done' | 'sockets-closed';

export interface ShutdownPhaseEvent {
  phase: ShutdownPhase;
  at: number;
  report?: DrainReport;
}

export interface CleanupErrorEvent {
  name: string;
  error: Error;
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
