import type { EventEmitter } from 'node:events';
import { channels } from './channels.js';
import type { Connection } from './connection.js';
import type { DrainOperation } from './drain.js';
import type { DrainerEventName, DrainerEvents, ShutdownPhase } from './events.js';
import type { DrainLogger, DrainReport, DrainResult } from './types.js';

/**
 * Everything a drainer reports: its typed events (emitted on the `Drainer`
 * itself), the diagnostics_channel messages (channels.ts) and the optional
 * logger. Payloads are built only when someone listens or subscribes.
 */
export class Diagnostics {
  private readonly events: EventEmitter;
  private readonly drainerId: string;
  private readonly logger: DrainLogger | undefined;

  constructor(events: EventEmitter, drainerId: string, logger: DrainLogger | undefined) {
    this.events = events;
    this.drainerId = drainerId;
    this.logger = logger;
  }

  fire<E extends DrainerEventName>(event: E, payload: DrainerEvents[E]): void {
    if (this.events.listenerCount(event) === 0) return;
    try {
      this.events.emit(event, payload);
    } catch (error) {
      // A throwing listener must not break a drain in progress.
      this.warn({ err: error, event }, 'drainkit: event listener threw');
    }
  }

  warn(obj: object, msg: string): void {
    this.log('warn', obj, msg);
  }

  /** A throwing logger must not break a drain (it runs inside socket 'close' handlers and drain promises). */
  log(level: 'info' | 'warn' | 'error', obj: object, msg: string): void {
    const logger = this.logger;
    if (!logger) return;
    try {
      logger[level](obj, msg);
    } catch {
      // Nowhere better to report it: the logger is the reporting channel.
    }
  }

  connectionOpened(connection: Connection): void {
    if (this.events.listenerCount('connection:open') > 0) this.fire('connection:open', { connection });
    if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish({ connection, drainerId: this.drainerId });
  }

  connectionDrained(result: DrainResult): void {
    this.fire('connection:drained', result);
    if (channels.connectionDrained.hasSubscribers) channels.connectionDrained.publish({ result, drainerId: this.drainerId });
  }

  /** Whether connectionDrained() and connectionClosed() would reach anyone. */
  wantsConnectionEnds(): boolean {
    return (
      this.events.listenerCount('connection:drained') > 0 ||
      this.events.listenerCount('connection:close') > 0 ||
      channels.connectionDrained.hasSubscribers ||
      channels.connectionClose.hasSubscribers
    );
  }

  connectionClosed(connection: Connection, forced: boolean): void {
    if (this.events.listenerCount('connection:close') > 0) this.fire('connection:close', { connection, forced });
    if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ connection, forced, drainerId: this.drainerId });
  }

  drainStarted(operation: DrainOperation): void {
    const { kind, total } = operation;
    const reason = operation.settings.reason;
    // `ids` is a copy of every id in the drain: built only when someone will read it.
    if (this.events.listenerCount('drain:start') > 0 || channels.drainStart.hasSubscribers) {
      const payload = { kind, ids: operation.ids, total, reason };
      this.fire('drain:start', payload);
      if (channels.drainStart.hasSubscribers) channels.drainStart.publish({ ...payload, drainerId: this.drainerId });
    }
    if (this.logger) this.log('info', { kind, total, reason }, 'drainkit: drain started');
  }

  drainEnded(report: DrainReport): DrainReport {
    this.fire('drain:end', report);
    if (channels.drainEnd.hasSubscribers) channels.drainEnd.publish({ report, drainerId: this.drainerId });
    this.log(
      'info',
      { kind: report.kind, total: report.total, closed: report.closed, forced: report.forced, durationMs: report.durationMs },
      'drainkit: drain finished',
    );
    return report;
  }

  /** Whether drainProgress() would reach anyone for this operation. */
  private wantsProgress(operation: DrainOperation): boolean {
    return operation.kind !== 'connection' && (this.events.listenerCount('drain:progress') > 0 || channels.drainProgress.hasSubscribers);
  }

  drainProgress(operation: DrainOperation, result: DrainResult, remaining: number): void {
    if (this.wantsProgress(operation)) this.publishProgress(operation, result, remaining);
  }

  /** drainProgress() for each of `results` in turn, `remaining` counted down from `remainingBefore`; one look for listeners. */
  drainProgressAll(operation: DrainOperation, results: readonly DrainResult[], remainingBefore: number): void {
    if (!this.wantsProgress(operation)) return;
    for (let i = 0; i < results.length; i++) this.publishProgress(operation, results[i]!, remainingBefore - i - 1);
  }

  private publishProgress(operation: DrainOperation, result: DrainResult, remaining: number): void {
    const payload = { kind: operation.kind, remaining, total: operation.total, result };
    this.fire('drain:progress', payload);
    if (channels.drainProgress.hasSubscribers) channels.drainProgress.publish({ ...payload, drainerId: this.drainerId });
  }

  phase(phase: ShutdownPhase, report?: DrainReport): void {
    const payload = report ? { phase, at: Date.now(), report } : { phase, at: Date.now() };
    this.fire('shutdown:phase', payload);
    if (channels.shutdownPhase.hasSubscribers) channels.shutdownPhase.publish({ ...payload, drainerId: this.drainerId });
  }
}
