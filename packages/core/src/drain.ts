import type { Connection, DeferringOperation, DrainTask } from './connection.js';
import type { DrainKind, DrainReport, DrainResult } from './types.js';

/** `startTask`: a strategy took the connection and will call `startDeferred` later in this loop turn. */
export const DEFERRED = 'deferred';

export interface OperationHost {
  /** Starts (or joins) the drain of a connection for this operation. */
  startTask(connection: Connection, operation: DrainOperation, now: number, deferrable: boolean): DrainTask | undefined | typeof DEFERRED;
  /** Re-examines a draining connection: deadline, idle grace, linger, GOAWAY phases. */
  advance(task: DrainTask, now: number): void;
  progress(operation: DrainOperation, result: DrainResult, remaining: number): void;
  /** progress() for each of `results` in turn, `remaining` counted down from `remainingBefore` (one check for listeners). */
  progressAll(operation: DrainOperation, results: readonly DrainResult[], remainingBefore: number): void;
  /**
   * Puts off, in one pass, the start of every connection a strategy would put off one by one (deferStart); returns how many.
   * `polled` (a poll phase ran since the drain was decided): the long-idle ones are closed in that pass instead.
   */
  deferAll(connections: Connection[], operation: DrainOperation, polled: boolean): number;
  /** Records the connections deferAll() closed in its pass (after the operation counted them). */
  recordClosedAtOnce(): void;
}

export interface OperationSettings {
  timeoutMs: number;
  concurrency: number;
  spreadMs: number;
  reason: string | undefined;
}

/**
 * One drain call: a connection, a filtered batch, or the shutdown.
 * It owns exactly one timer, re-armed for the earliest moment one of its
 * connections needs attention; never one timer per connection. Unref'd, except
 * a shutdown's: its connections may hold no ref'd handle while they wait for it
 * (an HTTP/2 session after its first GOAWAY with no stream open: Node stops
 * reading its socket, http2-drain.ts), and with the listener closed the process
 * then exited mid-shutdown, report and onShutdown hooks never run.
 */
export class DrainOperation implements DeferringOperation {
  readonly kind: DrainKind;
  readonly settings: OperationSettings;
  readonly startedAt: number;
  readonly results: DrainResult[] = [];
  private readonly host: OperationHost;
  private readonly queue: Connection[];
  private nextIndex = 0;
  /** Connections that closed before their turn came. */
  private skipped = 0;
  private readonly active = new Set<DrainTask>();
  /** Connections a strategy put off until later in this loop turn (deferStart): counted as active. */
  private deferred = 0;
  /** Tasks settled since the last recordSettled microtask. */
  private settledTasks: DrainTask[] = [];
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = Infinity;
  private accepting = true;
  private pumping = false;
  private finished = false;
  readonly promise: Promise<DrainReport>;
  private resolvePromise!: (report: DrainReport) => void;

  constructor(host: OperationHost, kind: DrainKind, connections: Connection[], settings: OperationSettings, now: number) {
    this.host = host;
    this.kind = kind;
    this.queue = connections;
    this.settings = settings;
    this.startedAt = now;
    this.promise = new Promise((resolve) => {
      this.resolvePromise = resolve;
    });
  }

  get total(): number {
    return this.queue.length - this.skipped;
  }

  get ids(): string[] {
    return this.queue.map((connection) => connection.id);
  }

  /** The tasks this operation is waiting on now (a later shutdown call lowers their deadline). */
  activeTasks(): Iterable<DrainTask> {
    return this.active;
  }

  /** `polled`: a poll phase has run since this drain was decided (Http1Strategy.deferAll). */
  start(now: number, polled = false): Promise<DrainReport> {
    // Everything starts now (no concurrency limit, no spread): the idle
    // connections are put off in one pass (10,000 of them in a shutdown: one
    // call each through startTask delayed the first FIN by ~5-10 ms).
    const { concurrency, spreadMs } = this.settings;
    if (concurrency >= this.queue.length && (spreadMs === 0 || this.kind === 'shutdown')) {
      const deferred = this.host.deferAll(this.queue, this, polled);
      this.deferred += deferred;
      // All of them put off (or closed): no walk of the queue to find none to start.
      if (deferred === this.queue.length) this.nextIndex = this.queue.length;
    }
    this.pump(now);
    this.host.recordClosedAtOnce();
    this.maybeFinish(now);
    return this.promise;
  }

  /** Adds a connection that opened while this (shutdown) operation runs. */
  add(connection: Connection, now: number): boolean {
    if (this.finished) return false;
    this.queue.push(connection);
    this.pump(now);
    this.maybeFinish(now);
    return true;
  }

  /** No more connections will be added; the operation ends once its queue is done. */
  seal(now: number): void {
    this.accepting = false;
    this.maybeFinish(now);
  }

  /** Makes sure the timer fires no later than `at`. */
  schedule(at: number): void {
    if (at >= this.timerAt || this.finished || at === Infinity) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.fire, Math.max(0, at - Date.now()));
    if (this.kind !== 'shutdown') this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    for (const task of this.active) this.host.advance(task, now);
    this.pump(now);
    for (const task of this.active) if (!task.result) this.schedule(task.nextCheckAt);
    this.maybeFinish(now);
  };

  private pump(now: number): void {
    // Tasks that finish as they start (idle HTTP/1.1 connections) are recorded
    // by this loop, not by a nested pump: 10,000 of them must not mean 10,000 stack frames.
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.startQueued(now);
    } finally {
      this.pumping = false;
    }
  }

  private startQueued(now: number): void {
    const { concurrency, spreadMs } = this.settings;
    while (this.active.size + this.deferred < concurrency && this.nextIndex < this.queue.length) {
      if (spreadMs > 0 && this.kind !== 'shutdown') {
        const startAt = this.startedAt + Math.floor((spreadMs * this.nextIndex) / this.queue.length);
        if (startAt > now) {
          this.schedule(startAt);
          return;
        }
      }
      const connection = this.queue[this.nextIndex++]!;
      // Put off by deferAll (counted there).
      if (connection.deferredBy === this) continue;
      this.startOne(connection, now);
    }
  }

  private startOne(connection: Connection, now: number, deferrable = true): void {
    const task = this.host.startTask(connection, this, now, deferrable);
    if (task === DEFERRED) {
      this.deferred++;
      return;
    }
    if (!task) {
      this.skipped++;
      return;
    }
    this.active.add(task);
    if (task.result) {
      this.record(task, task.result);
      return;
    }
    this.schedule(task.nextCheckAt);
  }

  /** DeferringOperation: connections put off were closed before they had tasks; `results` are their drains'. */
  closedDeferred(results: readonly DrainResult[], now: number): void {
    this.deferred -= results.length;
    const before = this.results.length;
    for (let i = 0; i < results.length; i++) this.results.push(results[i]!);
    this.host.progressAll(this, results, this.total - before);
    this.pump(now);
    this.maybeFinish(now);
  }

  /** DeferringOperation: the strategy is done with a connection it put off; its task starts (or joins) now. */
  startDeferred(connection: Connection, now: number, skip: boolean): void {
    this.deferred--;
    if (skip) this.skipped++;
    else this.startOne(connection, now, false);
    this.pump(now);
    this.maybeFinish(now);
  }

  /**
   * TaskOperation: one of this operation's tasks settled. Recorded in a microtask,
   * as a promise reaction would be, but one per batch of tasks rather than a
   * promise and a reaction per task (10,000 of them in a shutdown).
   */
  taskSettled(task: DrainTask): void {
    if (!this.active.has(task)) return;
    this.settledTasks.push(task);
    if (this.settledTasks.length === 1) queueMicrotask(this.recordSettled);
  }

  private readonly recordSettled = (): void => {
    const tasks = this.settledTasks;
    this.settledTasks = [];
    let recorded = false;
    for (const task of tasks) if (this.record(task, task.result!)) recorded = true;
    if (!recorded) return;
    const now = Date.now();
    this.pump(now);
    this.maybeFinish(now);
  };

  private record(task: DrainTask, result: DrainResult): boolean {
    if (!this.active.delete(task)) return false;
    this.results.push(result);
    this.host.progress(this, result, this.total - this.results.length);
    return true;
  }

  private maybeFinish(now: number): void {
    if (this.finished || this.active.size > 0 || this.deferred > 0 || this.nextIndex < this.queue.length) return;
    if (this.kind === 'shutdown' && this.accepting) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let forced = 0;
    for (const result of this.results) if (result.forced) forced++;
    this.resolvePromise({
      kind: this.kind,
      total: this.results.length,
      closed: this.results.length - forced,
      forced,
      durationMs: now - this.startedAt,
      results: this.results,
    });
  }
}
