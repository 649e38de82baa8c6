import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as h2constants } from 'node:http2';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { channels } from './channels.js';
import { Connection, kConnection } from './connection.js';
import type { Carrier } from './connection.js';
import { DrainOperation, DrainTask } from './drain.js';
import type { OperationHost, OperationSettings } from './drain.js';
import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import type { DrainerEventName, DrainerEvents, DrainerListener, ShutdownPhase } from './events.js';
import { Http1Strategy } from './http1.js';
import { Http2Strategy } from './http2.js';
import { handleSignals } from './signals.js';
import { withTimeout } from './timeout.js';
import type { HandleSignalsOptions } from './signals.js';
import { checkKnownKeys, checkObject, countOption, durationOption, resolveDrainerOptions, stringOption } from './options.js';
import type { ProtocolStrategy, ResolvedSettings, StrategyHost } from './strategy.js';
import type {
  ConnectionFilter,
  ConnectionInfo,
  ConnectionProtocol,
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
import { UpgradedStrategy } from './upgraded.js';
import { UnansweredCounter } from './unanswered.js';
import { discardAfterFin } from './linger.js';

const kDrainer = Symbol.for('drainkit.drainer');
/** How many finished drain results are kept, so a repeated drain of a closed connection gets its result. */
const RECENT_RESULTS = 1_024;

type AnyServer = net.Server & { [kDrainer]?: Drainer };
type EmitFn = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

export interface CleanupHookOptions {
  /** Shown in errors and events. */
  name?: string;
  /** Default 5 000 ms. */
  timeoutMs?: number;
}

interface CleanupHook {
  name: string;
  timeoutMs: number;
  run: () => unknown;
}

let drainerSeq = 0;

/**
 * Tracks every connection of one server and drains them one by one, by
 * filter, or all at once. Create it with `createDrainer(server, options)`.
 */
export class Drainer extends EventEmitter implements OperationHost, StrategyHost {
  /** Tells drainers apart in diagnostics_channel messages. */
  readonly drainerId = String(++drainerSeq);
  /** Requests that reached us and were never answered (stats().unanswered, drainkit:request:unanswered). */
  private readonly unanswered = new UnansweredCounter(this.drainerId);
  readonly server: net.Server;
  readonly settings: ResolvedSettings;

  private readonly registry = new Map<number, Connection>();
  private readonly recentResults = new Map<string, DrainResult>();
  private readonly strategies: Record<ConnectionProtocol, ProtocolStrategy>;
  private readonly isTls: boolean;
  private readonly isHttp2: boolean;
  private readonly originalEmit: EmitFn;
  private readonly hookedEmit: EmitFn;
  private readonly onStreamClose: (this: ServerHttp2Stream) => void;
  private seq = 0;
  private acceptedCount = 0;
  private closedCount = 0;
  private forcedCount = 0;
  private drainedCount = 0;
  private currentState: DrainerState = 'serving';
  private disposed = false;
  private upgradedDrainHook: UpgradedDrainHook | undefined = undefined;
  private shutdownPromise: Promise<DrainReport> | undefined = undefined;
  private shutdownOperation: DrainOperation | undefined = undefined;
  private shutdownController: AbortController | undefined = undefined;
  private readonly cleanupHooks: CleanupHook[] = [];
  private sweepTimer: NodeJS.Timeout | undefined = undefined;
  /** Released connections whose socket still waits for the client's FIN, with when it is destroyed at the latest. */
  private readonly lingering = new Map<Connection, number>();
  private lingerTimer: NodeJS.Timeout | undefined = undefined;
  /** Set once shutdown's listener close has completed (every socket Node counts has closed). */
  private listenerClosed = false;
  /** Set when shutdown closes the listener: from then on every new connection drains at once. */
  private listenerStopped = false;
  private shutdownReport: DrainReport | undefined = undefined;
  /** Pending `socketsClosed()` callers, resolved when no socket is left after shutdown. */
  private socketsClosedWaiter: ReturnType<typeof deferred> | undefined = undefined;
  private socketsClosedAnnounced = false;

  constructor(server: net.Server, options?: DrainerOptions) {
    super();
    if (!(server instanceof net.Server)) {
      throw new DrainError(
        DrainErrorCodes.NOT_A_SERVER,
        `createDrainer needs a net.Server (http, https or http2 server), got ${describeValue(server)}`,
      );
    }
    if ((server as AnyServer)[kDrainer]) {
      throw new DrainError(DrainErrorCodes.ALREADY_ATTACHED, 'This server already has a drainer; dispose() it before creating another');
    }
    this.settings = resolveDrainerOptions(options);
    this.server = server;
    this.isTls = server instanceof tls.Server;
    // Http2Server and Http2SecureServer are not exported; updateSettings() is theirs alone.
    this.isHttp2 = typeof (server as unknown as { updateSettings?: unknown }).updateSettings === 'function';
    this.strategies = { 'http/1.1': new Http1Strategy(this), h2: new Http2Strategy(this), upgraded: new UpgradedStrategy(this) };

    const drainer = this;
    this.onStreamClose = function (this: ServerHttp2Stream) {
      const connection = (this as Carrier)[kConnection];
      if (connection) drainer.streamClosed(connection, this);
    };

    (server as AnyServer)[kDrainer] = this;
    // Prepended, so the connection is known before Node's own listener creates
    // an HTTP/2 session or a parser for it.
    server.prependListener(this.isTls ? 'secureConnection' : 'connection', this.onConnection);
    server.on('session', this.onSession);

    // Requests are intercepted at emit() so that every 'request' listener, added
    // before or after us (Express, Koa, Fastify, Nest), sees them only when
    // drainkit dispatches them.
    this.originalEmit = server.emit as EmitFn;
    const originalEmit = this.originalEmit;
    this.hookedEmit = function (this: unknown, event: string | symbol, a?: unknown, b?: unknown, c?: unknown, d?: unknown) {
      if (!drainer.disposed) {
        // Named parameters, not `arguments`, on these paths: no arguments object per request.
        switch (event) {
          case 'request':
          case 'checkContinue':
          case 'checkExpectation':
            return drainer.onRequest(event, a as IncomingMessage, b as ServerResponse);
          case 'stream':
            return drainer.onStream(a as ServerHttp2Stream, b, c, d);
          case 'upgrade':
            return drainer.onUpgrade(a as IncomingMessage, b as Duplex, c);
        }
      }
      return Reflect.apply(originalEmit, this, arguments) as boolean;
    };
    server.emit = this.hookedEmit as net.Server['emit'];

    if (this.settings.maxConnectionAgeMs > 0) this.startAgeSweep();
  }

  // ---------------------------------------------------------------- public API

  get state(): DrainerState {
    return this.currentState;
  }

  /** False once shutdown has started: what a readiness probe should answer. */
  isReady(): boolean {
    return this.currentState === 'serving' && !this.disposed;
  }

  connections(filter?: ConnectionFilter): ConnectionInfo[] {
    if (filter !== undefined && typeof filter !== 'function') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `connections(filter): filter must be a function, got ${describeValue(filter)}`);
    }
    const list: ConnectionInfo[] = [];
    for (const connection of this.registry.values()) if (!filter || filter(connection)) list.push(connection);
    return list;
  }

  get(id: string): ConnectionInfo | undefined {
    if (typeof id !== 'string') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `get(id): id must be a string, got ${describeValue(id)}`);
    }
    return this.lookup(id);
  }

  /**
   * The connection of a request (http/https/Http2ServerRequest), a response,
   * an HTTP/2 stream or session, or a socket; undefined if not ours.
   */
  connectionOf(target: unknown): ConnectionInfo | undefined {
    return this.findConnection(target);
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
      const connection = this.lookup(id);
      if (!connection) {
        const recent = this.recentResults.get(id);
        if (recent) return Promise.resolve(recent);
        throw new DrainError(DrainErrorCodes.UNKNOWN_CONNECTION, `No open connection with id ${JSON.stringify(id)}`);
      }
      if (connection.task) {
        // Already draining: the same result, with the earlier of the two deadlines.
        this.drainOne(connection, timeoutMs, reason, false);
        return connection.task.promise;
      }
      return this.drainOne(connection, timeoutMs, reason).then(
        (report) => report.results[0] ?? this.recentResults.get(id)!,
      );
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
      for (const connection of this.registry.values()) if (!filter || filter(connection)) selected.push(connection);
      return this.runOperation('batch', selected, settings);
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
    if (this.shutdownPromise) return this.shutdownPromise;
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
      this.assertUsable();
      this.currentState = 'shutting-down';
      this.shutdownController?.abort(shuttingDownError());
      for (const connection of this.registry.values()) abortConnection(connection, shuttingDownError);
      this.phase('readiness-failed');
      this.shutdownPromise = this.runShutdown(settings, delayMs);
      return this.shutdownPromise;
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
    if (this.allClosedNow()) return Promise.resolve();
    this.socketsClosedWaiter ??= deferred();
    return this.socketsClosedWaiter.promise;
  }

  /**
   * An AbortSignal that aborts the moment the request's connection starts
   * draining or the server starts shutting down: for SSE, long polling and
   * streaming handlers, which write their last bytes and end.
   */
  signalFor(target: unknown): AbortSignal {
    const connection = this.findConnection(target);
    if (!connection) {
      if (target === null || typeof target !== 'object') {
        throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `signalFor() needs a request, response, stream or socket, got ${describeValue(target)}`);
      }
      // A request on a connection we never saw (opened before the drainer): it still learns of shutdown.
      this.shutdownController ??= new AbortController();
      if (this.currentState !== 'serving' && !this.shutdownController.signal.aborted) this.shutdownController.abort(shuttingDownError());
      return this.shutdownController.signal;
    }
    if (!connection.abortController) {
      connection.abortController = new AbortController();
      if (connection.task) connection.abortController.abort(drainingError());
      else if (this.currentState !== 'serving') connection.abortController.abort(shuttingDownError());
    }
    return connection.abortController.signal;
  }

  /**
   * Close the request's connection gracefully once its current response is
   * sent (HTTP/1.1: `Connection: close` on it; HTTP/2: GOAWAY, other streams finish).
   */
  drainAfterResponse(target: unknown, options?: DrainConnectionOptions): Promise<DrainResult> {
    const connection = this.findConnection(target);
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
    this.upgradedDrainHook = hook;
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
    if (typeof run !== 'function') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `onShutdown(fn): fn must be a function, got ${describeValue(run)}`);
    }
    const opts = checkObject('onShutdown options', options);
    checkKnownKeys('onShutdown options', opts, ['name', 'timeoutMs']);
    this.cleanupHooks.push({
      name: stringOption('name', opts.name) ?? (run.name || `cleanup#${this.cleanupHooks.length + 1}`),
      timeoutMs: durationOption('timeoutMs', opts.timeoutMs, 5_000),
      run,
    });
    return this;
  }

  stats(): DrainStats {
    let idle = 0;
    let active = 0;
    let draining = 0;
    let inFlight = 0;
    for (const connection of this.registry.values()) {
      inFlight += connection.inFlight;
      if (connection.state === 'draining') draining++;
      else if (connection.state === 'active') active++;
      else idle++;
    }
    return {
      open: this.registry.size,
      idle,
      active,
      draining,
      inFlight,
      accepted: this.acceptedCount,
      closed: this.closedCount,
      forcedClosed: this.forcedCount,
      drained: this.drainedCount,
      lingering: this.lingering.size,
      unanswered: this.unanswered.total,
      state: this.currentState,
    };
  }

  /** Detach from the server, leaving it as it was: held requests are released, nothing is closed. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const server = this.server as AnyServer;
    server.removeListener(this.isTls ? 'secureConnection' : 'connection', this.onConnection);
    server.removeListener('session', this.onSession);
    if (server.emit === this.hookedEmit) server.emit = this.originalEmit as net.Server['emit'];
    if (server[kDrainer] === this) delete server[kDrainer];
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const now = Date.now();
    for (const connection of this.registry.values()) {
      untrackSocket(connection.socket);
      const held = connection.held;
      connection.held = undefined;
      if (held) for (const request of held) this.originalEmit.call(server, request.event, request.req, request.res);
      connection.task?.settle(now);
    }
    this.registry.clear();
  }

  // ------------------------------------------------------- typed event helpers

  override on<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  override off<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }

  private fire<E extends DrainerEventName>(event: E, payload: DrainerEvents[E]): void {
    if (this.listenerCount(event) === 0) return;
    try {
      this.emit(event, payload);
    } catch (error) {
      // A throwing listener must not break a drain in progress.
      this.warn({ err: error, event }, 'drainkit: event listener threw');
    }
  }

  // ------------------------------------------------------------ connections

  private readonly onConnection = (socket: Socket): void => {
    if (this.disposed || (socket as Carrier)[kConnection]) return;
    const tlsSocket = socket as tls.TLSSocket;
    const protocol: ConnectionProtocol = this.isHttp2 && (!this.isTls || tlsSocket.alpnProtocol === 'h2') ? 'h2' : 'http/1.1';
    this.track(socket, protocol);
  };

  private readonly onSession = (session: Http2Session): void => {
    // session.socket is a proxy that forwards property reads to the socket.
    const connection = (session.socket as Carrier)[kConnection];
    if (!connection || connection.state === 'closed') return;
    connection.protocol = 'h2';
    connection.session = session;
    (session as Carrier)[kConnection] = connection;
  };

  private track(socket: Socket, protocol: ConnectionProtocol): Connection {
    const now = Date.now();
    const connection = new Connection(this, ++this.seq, socket, protocol, now);
    (socket as Carrier)[kConnection] = connection;
    trackSocket(socket);
    this.registry.set(connection.key, connection);
    this.acceptedCount++;
    const { maxConnectionAgeMs, maxConnectionAgeJitter } = this.settings;
    if (maxConnectionAgeMs > 0) {
      connection.retireAt = now + maxConnectionAgeMs * (1 + maxConnectionAgeJitter * (2 * Math.random() - 1));
    }
    if (this.listenerCount('connection:open') > 0) this.fire('connection:open', { connection });
    if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish({ connection, drainerId: this.drainerId });
    if (this.listenerStopped) {
      // Accepted by the kernel (or handed over by the cluster primary, or a late
      // TLS handshake) before the listener closed: it drains with the rest, or
      // on its own once the shutdown drain is over.
      if (this.shutdownOperation?.add(connection, now) !== true) this.drainOne(connection, this.settings.timeoutMs, 'shutdown', false);
    }
    return connection;
  }

  /** ConnectionOwner: the connection's socket emitted 'close'. */
  socketClosed(connection: Connection): void {
    if (connection.state === 'closed') {
      this.lingerEnded(connection);
      return;
    }
    this.closeConnection(connection, Date.now());
    if (this.listenerClosed) this.maybeAllClosed();
  }

  /**
   * The connection is over for HTTP: its socket closed, or (released) it has
   * sent its last response and its FIN and only lingers for the client's.
   */
  private closeConnection(connection: Connection, now: number): void {
    connection.state = 'closed';
    this.registry.delete(connection.key);
    this.closedCount++;
    const task = connection.task;
    let forced = false;
    if (task && !task.result) {
      forced = task.forced;
      if (connection.held) {
        task.droppedRequests += connection.held.length;
        this.unanswered.count(connection.held.length, 'held', connection.id);
      }
      if (forced) {
        this.forcedCount++;
        task.abortedRequests += connection.inFlight;
        this.warn({ connectionId: connection.id, remoteAddress: connection.remoteAddress, inFlight: connection.inFlight }, 'drainkit: connection force-closed at drain deadline');
      } else {
        this.drainedCount++;
      }
      const result = task.settle(now);
      this.recentResults.set(result.id, result);
      if (this.recentResults.size > RECENT_RESULTS) this.recentResults.delete(this.recentResults.keys().next().value!);
      this.fire('connection:drained', result);
      if (channels.connectionDrained.hasSubscribers) channels.connectionDrained.publish({ result, drainerId: this.drainerId });
    }
    connection.held = undefined;
    connection.currentResponse = undefined;
    if (this.listenerCount('connection:close') > 0) this.fire('connection:close', { connection, forced });
    if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ connection, forced, drainerId: this.drainerId });
  }

  /**
   * A draining HTTP/1.1 (or hook-less upgraded) connection that has written
   * its last response and sent its FIN is done: it can never carry a request
   * again. It leaves the registry now; its socket lingers, reading and
   * discarding, until the client's FIN or `lingerMs` (RFC 9112 §9.6), so the
   * close is not a reset. Waiting on the client for that would make every
   * drain (and shutdown) only as fast as the slowest client's FIN.
   */
  private releaseIfDone(task: DrainTask, now: number): boolean {
    const connection = task.connection;
    if (task.endedAt === 0 || connection.inFlight > 0 || connection.protocol === 'h2' || task.result) return false;
    const socket = lingeringSocket(connection);
    // Already closing: its close event settles it.
    if (socket.destroyed) return false;
    this.lingering.set(connection, now + this.settings.lingerMs);
    // On the client's FIN, Node's HTTP server calls socket.end() again; on a
    // socket whose FIN is already out that builds an ERR_STREAM_ALREADY_FINISHED
    // error, stack trace and all, only to drop it: ~4 µs per connection.
    if (socket.writableEnded) socket.end = endAfterFin as Duplex['end'];
    // Read and discard from now on, without parsing: whatever comes is counted, never held.
    if (connection.protocol === 'http/1.1') {
      const id = connection.id;
      discardAfterFin(socket, (requests, bytes) => this.unanswered.count(requests, 'after-fin', id, bytes));
    }
    this.closeConnection(connection, now);
    this.armLingerTimer();
    return true;
  }

  /** One timer for all lingering sockets of this drainer; they linger in release order, so the first is due first. */
  private armLingerTimer(): void {
    if (this.lingerTimer !== undefined) return;
    const first = this.lingering.values().next();
    if (first.done) return;
    this.lingerTimer = setTimeout(this.onLingerTimer, Math.max(0, first.value - Date.now()));
    // The lingering sockets keep the process alive; the timer need not.
    this.lingerTimer.unref();
  }

  private readonly onLingerTimer = (): void => {
    this.lingerTimer = undefined;
    const now = Date.now();
    for (const [connection, until] of this.lingering) {
      if (until > now) break;
      this.lingering.delete(connection);
      // The client never sent its FIN; ours went out at least lingerMs ago.
      lingeringSocket(connection).destroy();
    }
    this.armLingerTimer();
    this.maybeAllClosed();
  };

  private lingerEnded(connection: Connection): void {
    if (!this.lingering.delete(connection)) return;
    if (this.lingering.size === 0 && this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    this.maybeAllClosed();
  }

  private allClosedNow(): boolean {
    return this.listenerClosed && this.lingering.size === 0 && this.registry.size === 0;
  }

  /** After shutdown: resolves `socketsClosed()` once the listener is closed and no socket is open or lingers. */
  private maybeAllClosed(): void {
    if (!this.allClosedNow()) return;
    this.socketsClosedWaiter?.resolve();
    this.socketsClosedWaiter = undefined;
    if (this.currentState === 'closed' && !this.socketsClosedAnnounced) {
      this.socketsClosedAnnounced = true;
      this.phase('sockets-closed', this.shutdownReport);
    }
  }

  /** Ids read `<drainerId>-<key>`; the registry is keyed by the number. */
  private lookup(id: string): Connection | undefined {
    const dash = id.indexOf('-');
    if (dash < 0 || id.slice(0, dash) !== this.drainerId) return undefined;
    const connection = this.registry.get(Number(id.slice(dash + 1)));
    return connection !== undefined && connection.id === id ? connection : undefined;
  }

  private findConnection(target: unknown): Connection | undefined {
    if (target === null || typeof target !== 'object') return undefined;
    const candidate = target as Carrier & {
      socket?: Carrier | null;
      req?: { socket?: Carrier | null };
      stream?: { session?: Carrier } | null;
      session?: Carrier | null;
    };
    // Own mark first (socket, session, stream); then a request's or response's
    // socket (for an Http2ServerRequest a proxy forwarding to the real socket);
    // a finished response has left its socket but its request has not.
    const connection =
      candidate[kConnection] ??
      candidate.socket?.[kConnection] ??
      candidate.req?.socket?.[kConnection] ??
      candidate.stream?.session?.[kConnection] ??
      candidate.session?.[kConnection];
    return connection && this.registry.get(connection.key) === connection ? connection : undefined;
  }

  // ------------------------------------------------------------- HTTP/1.1

  private onRequest(event: string, req: IncomingMessage, res: ServerResponse): boolean {
    let connection = (req.socket as Carrier | null)?.[kConnection];
    if (connection === undefined && req.httpVersionMajor === 1 && req.socket && !req.socket.destroyed) {
      // A keep-alive connection opened before the drainer was attached: adopt it on its next request.
      connection = this.track(req.socket, 'http/1.1');
    }
    if (connection?.state === 'closed') {
      // Released: its FIN is out and it only lingers. A request that raced the
      // FIN (parsed from the same read as the one before) is never dispatched;
      // the client sees the close and may retry it (RFC 9112 §9.3.1).
      this.unanswered.count(1, 'after-fin', connection.id);
      return true;
    }
    if (!connection || connection.protocol !== 'http/1.1') {
      return this.originalEmit.call(this.server, event, req, res);
    }
    const task = connection.task;
    // One request at a time per connection: Node starts pipelined handlers
    // concurrently, and "not yet started" has to mean something for a drain.
    if (connection.inFlight > 0 || (task !== undefined && task.endedAt !== 0)) {
      (connection.held ??= []).push({ event, req, res });
      return true;
    }
    this.dispatch(connection, event, req, res);
    return true;
  }

  private dispatch(connection: Connection, event: string, req: IncomingMessage, res: ServerResponse): void {
    connection.inFlight++;
    connection.currentResponse = res;
    // Told of the response's end by Node's own detachSocket() call when it
    // finishes: a 'close' listener per response costs measurably more per
    // request. A response cut short ends with its socket, whose close we see.
    (res as ServerResponse & { detachSocket: typeof detachSocketAndReport }).detachSocket = detachSocketAndReport;
    this.retireIfDue(connection);
    const task = connection.task;
    if (task) {
      // Served during a drain (a head that was arriving, or within idle grace): the last one.
      task.servePartialHead = false;
      res.shouldKeepAlive = false;
      connection.state = 'draining';
    } else {
      connection.state = 'active';
    }
    this.originalEmit.call(this.server, event, req, res);
  }

  /** ConnectionOwner: the response in flight on the connection finished (Node detached it from the socket). */
  responseFinished(connection: Connection, res: ServerResponse): void {
    if (connection.state === 'closed' || connection.currentResponse !== res) return;
    const now = Date.now();
    connection.inFlight--;
    connection.currentResponse = undefined;
    connection.lastActiveAt = now;
    const task = connection.task;
    if (res.writableFinished) {
      connection.requestsServed++;
      if (task) task.completedRequests++;
    } else if (task) {
      task.abortedRequests++;
    }
    if (task) {
      this.advance(task, now);
      return;
    }
    const next = connection.held?.shift();
    if (connection.held?.length === 0) connection.held = undefined;
    if (next && !connection.socket.destroyed) {
      this.dispatch(connection, next.event, next.req, next.res);
      return;
    }
    connection.state = 'idle';
    connection.bytesReadAtIdle = connection.socket.bytesRead;
  }

  // ------------------------------------------------------------- HTTP/2

  /** Node emits 'stream' with (stream, headers, flags, rawHeaders). */
  private onStream(stream: ServerHttp2Stream, headers: unknown, flags: unknown, rawHeaders: unknown): boolean {
    const connection = (stream.session as Carrier | undefined)?.[kConnection];
    if (!connection || connection.state === 'closed') return this.originalEmit.call(this.server, 'stream', stream, headers, flags, rawHeaders);
    const task = connection.task;
    const id = stream.id ?? 0;
    if (task && task.goawayPhase === 2 && id > connection.lastStreamId) {
      // Beyond the final GOAWAY's last stream id: refused, never dispatched (RFC 9113 §6.8).
      task.droppedRequests++;
      this.unanswered.count(1, 'refused-stream', connection.id);
      stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
      return true;
    }
    if (id > connection.lastStreamId) connection.lastStreamId = id;
    connection.inFlight++;
    connection.state = task ? 'draining' : 'active';
    (stream as Carrier)[kConnection] = connection;
    stream.on('close', this.onStreamClose);
    this.retireIfDue(connection);
    return this.originalEmit.call(this.server, 'stream', stream, headers, flags, rawHeaders);
  }

  private streamClosed(connection: Connection, stream: ServerHttp2Stream): void {
    if (connection.state === 'closed') return;
    const now = Date.now();
    connection.inFlight--;
    connection.lastActiveAt = now;
    const task = connection.task;
    // Completed means the whole response went out; a stream closed by a reset
    // or by a forced session destroy (rstCode may still read NO_ERROR) did not.
    if (stream.writableFinished && (stream.rstCode === undefined || stream.rstCode === h2constants.NGHTTP2_NO_ERROR)) {
      connection.requestsServed++;
      if (task) task.completedRequests++;
    } else if (task) {
      task.abortedRequests++;
    }
    if (task) this.advance(task, now);
    else if (connection.inFlight === 0) connection.state = 'idle';
  }

  // ------------------------------------------------------------- upgrades

  /** Node emits 'upgrade' with (req, socket, head). */
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: unknown): boolean {
    const connection = (req.socket as Carrier | null)?.[kConnection];
    // An upgrade request that raced the FIN of a released connection: never dispatched, as above.
    if (connection?.state === 'closed' && this.lingering.has(connection)) return true;
    if (connection && connection.state !== 'closed') {
      connection.protocol = 'upgraded';
      connection.upgradedSocket = socket;
      connection.requestsServed++;
      connection.lastActiveAt = Date.now();
      connection.state = connection.task ? 'draining' : 'active';
    }
    const handled = this.originalEmit.call(this.server, 'upgrade', req, socket, head);
    // Draining already (a head was arriving when the drain began): wind the new upgrade down at once.
    if (connection?.task && connection.state !== 'closed') this.strategies.upgraded.begin(connection, connection.task, Date.now());
    return handled;
  }

  // ------------------------------------------------------------- draining

  private runOperation(kind: 'connection' | 'batch', connections: Connection[], settings: OperationSettings, announce = true): Promise<DrainReport> {
    const now = Date.now();
    const operation = new DrainOperation(this, kind, connections, settings, now);
    if (announce) this.announceStart(operation);
    // A drain that was not announced (joining one in progress, a late connection) is not announced as ended either.
    return operation.start(now).then((report) => (announce ? this.announceEnd(report) : report));
  }

  private announceStart(operation: DrainOperation): void {
    const { kind, total } = operation;
    const reason = operation.settings.reason;
    // `ids` is a copy of every id in the drain: built only when someone will read it.
    if (this.listenerCount('drain:start') > 0 || channels.drainStart.hasSubscribers) {
      const payload = { kind, ids: operation.ids, total, reason };
      this.fire('drain:start', payload);
      if (channels.drainStart.hasSubscribers) channels.drainStart.publish({ ...payload, drainerId: this.drainerId });
    }
    if (this.settings.logger) this.log('info', { kind, total, reason }, 'drainkit: drain started');
  }

  private announceEnd(report: DrainReport): DrainReport {
    this.fire('drain:end', report);
    if (channels.drainEnd.hasSubscribers) channels.drainEnd.publish({ report, drainerId: this.drainerId });
    this.log(
      'info',
      { kind: report.kind, total: report.total, closed: report.closed, forced: report.forced, durationMs: report.durationMs },
      'drainkit: drain finished',
    );
    return report;
  }

  /** OperationHost: start or join the drain of one connection. */
  startTask(connection: Connection, operation: DrainOperation, now: number): DrainTask | undefined {
    if (connection.state === 'closed') return undefined;
    const deadlineAt = now + operation.settings.timeoutMs;
    let task = connection.task;
    if (task) {
      task.operations.push(operation);
      if (deadlineAt < task.deadlineAt) {
        task.deadlineAt = deadlineAt;
        if (now >= deadlineAt) this.advance(task, now);
      }
      return task;
    }
    task = new DrainTask(connection, now, deadlineAt, operation.settings.reason);
    task.operations.push(operation);
    connection.task = task;
    connection.state = 'draining';
    abortConnection(connection, drainingError);
    this.strategies[connection.protocol].begin(connection, task, now);
    if (now >= deadlineAt) this.advance(task, now);
    else this.releaseIfDone(task, now);
    return task;
  }

  /** OperationHost and StrategyHost: re-examine a draining connection. */
  advance(task: DrainTask, now: number): void {
    const connection = task.connection;
    if (task.result || connection.state === 'closed') return;
    const strategy = this.strategies[connection.protocol];
    if (now >= task.deadlineAt) {
      // Node caches the peer address once read: read it while the socket is open, for the forced-close log line.
      if (this.settings.logger) void connection.socket.remoteAddress;
      strategy.force(connection, task);
      return;
    }
    strategy.advance(connection, task, now);
    if (!this.releaseIfDone(task, now)) this.reschedule(task);
  }

  reschedule(task: DrainTask): void {
    for (const operation of task.operations) operation.schedule(task.nextCheckAt);
  }

  progress(operation: DrainOperation, result: DrainResult, remaining: number): void {
    if (operation.kind === 'connection') return;
    if (this.listenerCount('drain:progress') === 0 && !channels.drainProgress.hasSubscribers) return;
    const payload = { kind: operation.kind, remaining, total: operation.total, result };
    this.fire('drain:progress', payload);
    if (channels.drainProgress.hasSubscribers) channels.drainProgress.publish({ ...payload, drainerId: this.drainerId });
  }

  upgradedHook(): UpgradedDrainHook | undefined {
    return this.upgradedDrainHook;
  }

  warn(obj: object, msg: string): void {
    this.log('warn', obj, msg);
  }

  /** A throwing logger must not break a drain (it runs inside socket 'close' handlers and drain promises). */
  private log(level: 'info' | 'warn' | 'error', obj: object, msg: string): void {
    const logger = this.settings.logger;
    if (!logger) return;
    try {
      logger[level](obj, msg);
    } catch {
      // Nowhere better to report it: the logger is the reporting channel.
    }
  }

  /** Rebalancing (age or request cap): a graceful drain with the default timeout. */
  /**
   * Rebalancing checked on activity, as a request or stream is dispatched (it
   * counts in `inFlight`): past the request cap or its age, the connection
   * drains gracefully and this request is its last.
   */
  private retireIfDue(connection: Connection): void {
    if (connection.task !== undefined) return;
    const max = this.settings.maxRequestsPerConnection;
    if (max > 0 && connection.requestsServed + connection.inFlight >= max) this.retire(connection, 'max-requests');
    else if (connection.retireAt !== 0 && Date.now() >= connection.retireAt) this.retire(connection, 'max-connection-age');
  }

  private retire(connection: Connection, reason: string): void {
    this.drainOne(connection, this.settings.timeoutMs, reason);
  }

  /** One connection as its own operation (announce: false for one that joins a drain already announced). */
  private drainOne(connection: Connection, timeoutMs: number, reason: string | undefined, announce = true): Promise<DrainReport> {
    return this.runOperation('connection', [connection], { timeoutMs, concurrency: 1, spreadMs: 0, reason }, announce);
  }

  /** One shared sweep for connection age, never a timer per connection. */
  private startAgeSweep(): void {
    const period = Math.min(1_000, Math.max(10, Math.floor(this.settings.maxConnectionAgeMs / 10)));
    this.sweepTimer = setInterval(() => {
      if (this.currentState !== 'serving') return;
      const now = Date.now();
      const due: Connection[] = [];
      for (const connection of this.registry.values()) {
        if (!connection.task && connection.retireAt !== 0 && now >= connection.retireAt) due.push(connection);
      }
      // The connections due at one sweep drain as one operation: one timer between them, not one each.
      if (due.length === 1) this.retire(due[0]!, 'max-connection-age');
      else if (due.length > 1) {
        this.runOperation('batch', due, { timeoutMs: this.settings.timeoutMs, concurrency: Infinity, spreadMs: 0, reason: 'max-connection-age' });
      }
    }, period);
    this.sweepTimer.unref();
  }

  // ------------------------------------------------------------- shutdown

  private phase(phase: ShutdownPhase, report?: DrainReport): void {
    const payload = report ? { phase, at: Date.now(), report } : { phase, at: Date.now() };
    this.fire('shutdown:phase', payload);
    if (channels.shutdownPhase.hasSubscribers) channels.shutdownPhase.publish({ ...payload, drainerId: this.drainerId });
  }

  private async runShutdown(settings: OperationSettings, delayMs: number): Promise<DrainReport> {
    if (delayMs > 0) {
      // Still serving normally, so load balancers remove this instance before the listener closes.
      await new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref());
      this.phase('delay-elapsed');
    }
    const startedAt = Date.now();
    this.listenerStopped = true;
    const listenerClosed = this.stopListening();
    this.phase('listener-closed');
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const operation = new DrainOperation(this, 'shutdown', [...this.registry.values()], settings, startedAt);
    this.shutdownOperation = operation;
    this.announceStart(operation);
    const running = operation.start(startedAt);
    operation.seal(Date.now());
    const report = this.announceEnd(await running);
    this.shutdownOperation = undefined;
    void listenerClosed.then(() => {
      this.listenerClosed = true;
      this.maybeAllClosed();
    });
    // Connections we never tracked (opened before the drainer) hold the listener open; give them the rest of the grace period.
    // Lingering sockets hold it open too, but they close by themselves within lingerMs.
    if ((await this.openSocketCount()) > this.lingering.size) {
      const left = startedAt + settings.timeoutMs - Date.now();
      if (!(await withTimeout(listenerClosed, left))) {
        (this.server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }
    }
    this.phase('drained', report);
    await this.runCleanupHooks();
    this.phase('cleanup-done', report);
    this.currentState = 'closed';
    this.shutdownReport = report;
    this.maybeAllClosed();
    return report;
  }

  /** Sockets Node counts for the server: tracked, lingering and never tracked. */
  private openSocketCount(): Promise<number> {
    return new Promise((resolve) => {
      this.server.getConnections((error, count) => resolve(error ? Infinity : count));
    });
  }

  /** Stop accepting without Node's own idle-connection sweep, which would reset connections drainkit is closing gracefully. */
  private stopListening(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      net.Server.prototype.close.call(this.server, () => resolve());
    });
  }

  private async runCleanupHooks(): Promise<void> {
    for (const hook of this.cleanupHooks) {
      try {
        const outcome = await withTimeout(Promise.resolve().then(hook.run), hook.timeoutMs);
        if (!outcome) throw new Error(`timed out after ${hook.timeoutMs} ms`);
      } catch (cause) {
        const error = new DrainError(DrainErrorCodes.CLEANUP_FAILED, `Shutdown cleanup "${hook.name}" failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
        this.log('error', { err: error, hook: hook.name }, 'drainkit: shutdown cleanup failed');
        this.fire('cleanup:error', { name: hook.name, error });
      }
    }
  }

  private assertUsable(): void {
    if (this.disposed) throw new DrainError(DrainErrorCodes.DISPOSED, 'This drainer was disposed');
  }
}

const inheritedEmit = EventEmitter.prototype.emit;

/**
 * Installed as a tracked socket's own `emit`, it learns of the socket's close
 * before any 'close' listener runs, without being a listener. Node adds and
 * removes a 'close' listener on the socket for every response; next to Node's
 * own and one of ours, that grows the socket's listener array to 19 slots for
 * good (about 200 bytes per keep-alive socket), and stepping our listener
 * aside per request instead costs about 1 µs of CPU per request.
 */
function trackedSocketEmit(this: Socket, event: string | symbol, arg?: unknown): boolean {
  if (event === 'close') onTrackedSocketClose.call(this);
  // Listeners see exactly the arguments emit() was given.
  if (arguments.length === 1) return inheritedEmit.call(this, event);
  return arguments.length === 2 ? inheritedEmit.call(this, event, arg) : (Reflect.apply(inheritedEmit, this, arguments) as boolean);
}

function onTrackedSocketClose(this: Socket): void {
  const connection = (this as Carrier)[kConnection];
  if (connection !== undefined && connection.socket === this) connection.owner.socketClosed(connection);
}

function trackSocket(socket: Socket): void {
  // A socket whose emit someone else replaced gets a plain listener instead.
  if (socket.emit === inheritedEmit) socket.emit = trackedSocketEmit as Socket['emit'];
  else socket.on('close', onTrackedSocketClose);
}

function untrackSocket(socket: Socket): void {
  if (Object.hasOwn(socket, 'emit') && socket.emit === (trackedSocketEmit as Socket['emit'])) delete (socket as Partial<Socket>).emit;
  else socket.removeListener('close', onTrackedSocketClose);
  delete (socket as Carrier)[kConnection];
}

/** `end()` on a socket that has already sent its FIN: nothing to do, unless a callback wants the outcome. */
function endAfterFin(this: Duplex, ...args: unknown[]): Duplex {
  if (typeof args[args.length - 1] === 'function') return Reflect.apply(Object.getPrototypeOf(this).end as Duplex['end'], this, args) as Duplex;
  return this;
}

/**
 * Installed as a dispatched response's own `detachSocket`, which Node's HTTP
 * server calls once when the response has finished, before it hands the socket
 * to the next pipelined response.
 */
function detachSocketAndReport(this: ServerResponse, socket: Socket): void {
  (Object.getPrototypeOf(this) as ServerResponse).detachSocket.call(this, socket);
  const connection = (socket as Carrier)[kConnection];
  if (connection !== undefined) connection.owner.responseFinished(connection, this);
}

/** The socket a released connection lingers on: the one its last bytes went out on. */
function lingeringSocket(connection: Connection): Duplex {
  return connection.upgradedSocket ?? connection.socket;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function drainingError(): DrainError {
  return new DrainError(DrainErrorCodes.CONNECTION_DRAINING, 'The connection is draining');
}

function shuttingDownError(): DrainError {
  return new DrainError(DrainErrorCodes.SHUTTING_DOWN, 'The server is shutting down');
}

function abortConnection(connection: Connection, reason: () => DrainError): void {
  const controller = connection.abortController;
  if (controller && !controller.signal.aborted) controller.abort(reason());
}

export function createDrainer(server: net.Server, options?: DrainerOptions): Drainer {
  return new Drainer(server, options);
}
