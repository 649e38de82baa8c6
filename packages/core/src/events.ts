import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
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

/** Every event a drainer emits; a runtime list of `DrainerEventName`. */
export const drainerEventNames: readonly DrainerEventName[] = [
  'connection:open',
  'connection:close',
  'connection:drained',
  'drain:start',
  'drain:progress',
  'drain:end',
  'shutdown:phase',
  'cleanup:error',
];

/**
 * EventEmitter's own events, and 'error' (never emitted by a drainer, but
 * `events.once(drainer, name)` listens to it): allowed alongside the drainer's.
 */
const EMITTER_EVENTS = ['newListener', 'removeListener', 'error'];

/**
 * Throws `ERR_DRAIN_INVALID_ARGUMENT` for an event name a drainer never emits
 * (`'drain:ended'`, `'shutdown'`): a listener on it would wait forever, silently.
 */
export function assertDrainerEventName(method: string, event: unknown): void {
  if (typeof event === 'symbol') return;
  if (typeof event === 'string' && ((drainerEventNames as readonly string[]).includes(event) || EMITTER_EVENTS.includes(event))) return;
  throw new DrainError(
    DrainErrorCodes.INVALID_ARGUMENT,
    `${method}(event): a drainer emits no event ${describeValue(event)}; its events are ${drainerEventNames.map((name) => `"${name}"`).join(', ')}`,
  );
}
