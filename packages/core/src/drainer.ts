import net from 'node:net';
import { beforeShutdownHook } from './before-shutdown.js';
import type { BeforeShutdownOptions } from './before-shutdown.js';
import { socketsClosed } from './closing.js';
import type { Connection } from './connection.js';
import { releaseAll } from './connection-tracking.js';
import { DrainerHost } from './core-host.js';
import { DrainerCore } from './core.js';
import { EventEmitterWithoutInit } from './event-base.js';
import type { Registry } from './registry.js';
import { drainOne, drainingError, joinTask, runOperation, shuttingDownError } from './drain-control.js';
import type { OperationSettings } from './drain.js';
import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { assertDrainerEventName } from './events.js';
import type { DrainerEventName, DrainerListener } from './events.js';
import type { HealthCheck, HealthCheckOptions, HealthReport } from './health.js';
import { requestKey, requestSignal } from './request-signals.js';
import { attach, detach } from './interception.js';
import { lingerTimerListener } from './lingering-close.js';
import { checkKnownKeys, checkObject, countOption, durationOption, resolveDrainerOptions, stringOption } from './options.js';
import { startAgeSweep, stopAgeSweep } from './retirement.js';
import { collectStats } from './stats.js';
import { addCleanupHook, shortenShutdown, startShutdown } from './shutdown.js';
import type { CleanupHookOptions } from './shutdown.js';
import { handleSignals } from './signals.js';
import type { HandleSignalsOptions } from './signals.js';
import type { ResolvedSettings } from './strategy.js';
import type {
  ConnectionFilter,
  ConnectionInfo,
  DrainConnectionOptions,
  DrainerOptions,
  DrainerState,
  DrainOptions,
  DrainReport,
  DrainResult,
  DrainStats,
  ShutdownOptions,
  UpgradedDrainHook,
} from './types.js';

const kDrainer = Symbol.for('drainkit.drainer');

type AnyServer = net.Server & { [kDrainer]?: Drainer };

let drainerSeq = 0;

/**
 * Tracks every connection of one server and drains them one by one, by
 * filter, or all at once. Create it with `createDrainer(server, options)`.
 *
 * A facade: it checks arguments and hands the work to the modules that act
 * on its `DrainerCore` (see ARCHITECTURE.md). It is also the host those
 * modules call back through (DrainOperation, the protocol strategies and
 * each Connection hold it), so they need not import one another in circles.
 */
export class Drainer extends EventEmitterWithoutInit {
  /** Tells drainers apart in diagnostics_channel messages. */
  readonly drainerId = String(++drainerSeq);
  readonly server: net.Server;
  readonly settings: ResolvedSettings;
  private readonly core: DrainerCore;
  /** The core's registry (its open connections), which most public methods read. */
  private readonly registry: Registry;

  constructor(server: net.Server, options?: DrainerOptions) {
    super();
    if (!(server instanceof net.Server)) {
      throw new DrainError(DrainErrorCodes.NOT_A_SERVER, `createDrainer needs a net.Server (http, https or http2 server), got ${describeValue(server)}`);
    }
    if ((server as AnyServer)[kDrainer]) {
      throw new DrainError(DrainErrorCodes.ALREADY_ATTACHED, 'This server already has a drainer; dispose() it before creating another');
    }
    this.settings = resolveDrainerOptions(options);
    this.server = server;
    // The internal modules call back through a host of their own (core-host.ts), not through the public class.
    const host = new DrainerHost(this.drainerId, this.settings, server);
    this.core = new DrainerCore(server, this.settings, host, this);
    host.core = this.core;
    this.registry = this.core.registry;
    this.core.onLingerTimer = lingerTimerListener(this.core);
    (server as AnyServer)[kDrainer] = this;
    attach(this.core);
    if (this.settings.maxConnectionAgeMs > 0) startAgeSweep(this.core);
  }

  // ---------------------------------------------------------------- public API

  get state(): DrainerState {
    return this.core.state;
  }

  /** False once shutdown has started: what a readiness probe should answer. */
  isReady(): boolean {
    return this.core.state === 'serving' && !this.core.disposed;
  }

  connections(filter?: ConnectionFilter): ConnectionInfo[] {
    if (filter !== undefined && typeof filter !== 'function') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `connections(filter): filter must be a function, got ${describeValue(filter)}`);
    }
    const list: ConnectionInfo[] = [];
    for (const connection of this.registry.connections.values()) if (!filter || filter(connection)) list.push(connection);
    return list;
  }

  get(id: string): ConnectionInfo | undefined {
    if (typeof id !== 'string') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `get(id): id must be a string, got ${describeValue(id)}`);
    }
    return this.registry.lookup(id);
  }

  /**
   * The connection of a request (http/https/Http2ServerRequest), a response,
   * an HTTP/2 stream or session, or a socket; undefined if not ours.
   */
  connectionOf(target: unknown): ConnectionInfo | undefined {
    return this.registry.find(target);
  }

  /** Close a connection gracefully; resolves (never rejects on timeout) when it is closed. */
  drainConnection(id: string, options?: DrainConnectionOptions): Promise<DrainResult> {
    try {
      const opts = checkObject('drainConnection options', options);
      checkKnownKeys('drainConnection options', opts, ['timeoutMs', 'reason']);
      const timeoutMs = durationOption('timeoutMs', opts.timeoutMs, this.settings.timeoutMs);
      const reason = stringOption('reason', opts.reason);
      if (typeof id !== 'string') {
        throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `drainConnection(id): id must be a string, got ${describeValue(id)}`);
      }
      this.assertUsable();
      const registry = this.registry;
      const connection = registry.lookup(id);
      if (!connection) {
        const recent = registry.recentResult(id);
        if (recent) return Promise.resolve(recent);
        throw new DrainError(DrainErrorCodes.UNKNOWN_CONNECTION, `No open connection with id ${JSON.stringify(id)}`);
      }
      if (connection.task) {
        // Already draining: the same result, with the earlier of the two
        // deadlines. O(1): no new operation or timer per call (20k repeated
        // calls on one connection used to block the loop for seconds).
        joinTask(this.core, connection.task, Date.now() + timeoutMs);
        return connection.task.promise;
      }
      return drainOne(this.core, connection, timeoutMs, reason).then((report) => report.results[0] ?? registry.recentResult(id)!);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Drain the connections matching `filter` (all when omitted); the server keeps accepting. */
  drain(filter?: ConnectionFilter, options?: DrainOptions): Promise<DrainReport> {
    try {
      if (filter !== undefined && filter !== null && typeof filter !== 'function') {
        throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `drain(filter): filter must be a function, got ${describeValue(filter)}`);
      }
      const opts = checkObject('drain options', options);
      checkKnownKeys('drain options', opts, ['timeoutMs', 'concurrency', 'spreadMs', 'reason']);
      const settings: OperationSettings = {
        timeoutMs: durationOption('timeoutMs', opts.timeoutMs, this.settings.timeoutMs),
        concurrency: countOption('concurrency', opts.concurrency, Infinity, 1, true),
        spreadMs: durationOption('spreadMs', opts.spreadMs, 0),
        reason: stringOption('reason', opts.reason),
      };
      this.assertUsable();
      const selected: Connection[] = [];
      for (const connection of this.registry.connections.values()) if (!filter || filter(connection)) selected.push(connection);
      return runOperation(this.core, 'batch', selected, settings);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Readiness fails at once; after `shutdownDelayMs` the listener closes and
   * every connection drains; then the `onShutdown` cleanup hooks run.
   * A second call returns the same promise.
   */
  shutdown(options?: ShutdownOptions): Promise<DrainReport> {
    try {
      const opts = checkObject('shutdown options', options);
      checkKnownKeys('shutdown options', opts, ['timeoutMs', 'reason', 'shutdownDelayMs']);
      const settings: OperationSettings = {
        timeoutMs: durationOption('timeoutMs', opts.timeoutMs, this.settings.timeoutMs),
        concurrency: Infinity,
        spreadMs: 0,
        reason: stringOption('reason', opts.reason) ?? 'shutdown',
      };
      const delayMs = durationOption('shutdownDelayMs', opts.shutdownDelayMs, this.settings.shutdownDelayMs);
      if (this.core.shutdownPromise) {
        // Already shutting down: the same run, shortened if this call asks for less time.
        shortenShutdown(this.core, opts.timeoutMs === undefined ? undefined : settings.timeoutMs, opts.shutdownDelayMs === undefined ? undefined : delayMs);
        return this.core.shutdownPromise;
      }
      this.assertUsable();
      return startShutdown(this.core, settings, delayMs);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Resolves once `shutdown()` has closed the listener and every socket has
   * closed, including the ones still lingering for their client's FIN when
   * the shutdown promise resolved (at most `lingerMs` later). Await it before
   * calling `process.exit()` yourself; `handleSignals` does.
   */
  socketsClosed(): Promise<void> {
    return socketsClosed(this.core);
  }

  /**
   * An AbortSignal that aborts the moment the request's connection starts
   * draining or the server starts shutting down: for SSE, long polling and
   * streaming handlers, which write their last bytes and end.
   */
  signalFor(target: unknown): AbortSignal {
    const core = this.core;
    const connection = this.registry.find(target);
    if (!connection) {
      if (target === null || typeof target !== 'object') {
        throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `signalFor() needs a request, response, stream or socket, got ${describeValue(target)}`);
      }
      // A request on a connection we never saw (opened before the drainer): it still learns of shutdown.
      core.shutdownController ??= new AbortController();
      if (core.state !== 'serving' && !core.shutdownController.signal.aborted) core.shutdownController.abort(shuttingDownError());
      return core.shutdownController.signal;
    }
    core.signalsHandedOut = true;
    const abortedWith = connection.task ? drainingError : core.state !== 'serving' ? shuttingDownError : undefined;
    // A request (or its response, or an HTTP/2 stream) gets a signal of its
    // own, released when its response finishes; a socket or session keeps the
    // connection-wide one.
    const key = requestKey(target as object);
    if (key !== undefined) return requestSignal(key, (connection.requestSignals ??= new Set()), abortedWith);
    if (!connection.abortController) {
      connection.abortController = new AbortController();
      if (abortedWith) connection.abortController.abort(abortedWith());
    }
    return connection.abortController.signal;
  }

  /**
   * Close the request's connection gracefully once its current response is
   * sent (HTTP/1.1: `Connection: close` on it; HTTP/2: GOAWAY, other streams finish).
   */
  drainAfterResponse(target: unknown, options?: DrainConnectionOptions): Promise<DrainResult> {
    const connection = this.registry.find(target);
    if (!connection) {
      return Promise.reject(
        new DrainError(DrainErrorCodes.UNKNOWN_CONNECTION, 'drainAfterResponse(): the request belongs to no connection this drainer tracks'),
      );
    }
    return this.drainConnection(connection.id, { reason: 'drain-after-response', ...options });
  }

  /** How an upgraded (e.g. WebSocket) connection is wound down when drained. Called once per connection. */
  onUpgradedDrain(hook: UpgradedDrainHook | undefined): this {
    if (hook !== undefined && typeof hook !== 'function') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `onUpgradedDrain(hook): hook must be a function, got ${describeValue(hook)}`);
    }
    this.core.upgradedDrainHook = hook;
    return this;
  }

  /**
   * Shut down on SIGTERM/SIGINT (and PM2's 'shutdown' message) and exit: 0
   * after a clean drain, non-zero when something was forced. A second signal
   * forces the rest. Returns a function that removes the handlers.
   */
  handleSignals(options?: HandleSignalsOptions): () => void {
    return handleSignals(this, options);
  }

  /** A cleanup step run after the last connection closed during shutdown (close databases, flush logs). */
  onShutdown(run: () => unknown, options?: CleanupHookOptions): this {
    addCleanupHook(this.core, run, options);
    return this;
  }

  /** Awaited after readiness fails, before the listener closes (alongside `shutdownDelayMs`); see before-shutdown.ts. */
  beforeShutdown(run: () => unknown, options?: BeforeShutdownOptions): this {
    this.core.beforeShutdownHooks.push(beforeShutdownHook(run, options, this.core.beforeShutdownHooks.length));
    return this;
  }

  /** An async check the adapters' readiness handlers run; a failing critical one answers 503 (health.ts). */
  healthCheck(name: string, check: HealthCheck, options?: HealthCheckOptions): this {
    this.core.health.add(name, check, options);
    return this;
  }

  /** Runs (or reuses the cached results of) every health check. Never rejects. */
  checkHealth(): Promise<HealthReport> {
    return this.core.health.run();
  }

  get healthCheckCount(): number {
    return this.core.health.size;
  }

  stats(): DrainStats {
    return collectStats(this.core);
  }

  /** Detach from the server, leaving it as it was: held requests are released, nothing is closed. */
  dispose(): void {
    const core = this.core;
    if (core.disposed) return;
    core.disposed = true;
    detach(core);
    const server = this.server as AnyServer;
    if (server[kDrainer] === this) delete server[kDrainer];
    stopAgeSweep(core);
    releaseAll(core);
  }

  // ------------------------------------------------------- typed event helpers

  override on<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    assertDrainerEventName('on', event);
    return super.on(event, listener);
  }

  override once<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    assertDrainerEventName('once', event);
    return super.once(event, listener);
  }

  override off<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    assertDrainerEventName('off', event);
    return super.off(event, listener);
  }

  private assertUsable(): void {
    if (this.core.disposed) throw new DrainError(DrainErrorCodes.DISPOSED, 'This drainer was disposed');
  }
}

export function createDrainer(server: net.Server, options?: DrainerOptions): Drainer {
  return new Drainer(server, options);
}
