import type { EventEmitter } from 'node:events';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import type net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { BeforeShutdownHook } from './before-shutdown.js';
import type { Connection, ConnectionOwner } from './connection.js';
import type { DrainOperation, OperationHost, OperationSettings } from './drain.js';
import { Diagnostics } from './diagnostics.js';
import { HealthRegistry } from './health.js';
import { Http1Strategy } from './http1-drain.js';
import { Http2Strategy } from './http2-drain.js';
import type { ConnectionsList } from './message-in-progress.js';
import { Registry } from './registry.js';
import type { ProtocolStrategy, ResolvedSettings, StrategyHost } from './strategy.js';
import type { ConnectionProtocol, DrainerState, DrainReport, UpgradedDrainHook } from './types.js';
import { UpgradedStrategy } from './upgraded-drain.js';
import { UnansweredCounter } from './unanswered.js';

export type EmitFn = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** What the modules call back into: the `Drainer` facade, which owns the core. */
export type CoreHost = OperationHost & StrategyHost & ConnectionOwner;

export interface CleanupHook {
  name: string;
  timeoutMs: number;
  run: () => unknown;
}

/**
 * The state of one drainer, shared by the modules that act on it
 * (interception, http1-dispatch, http2-streams, drain-control, lingering-close,
 * shutdown, retirement ...). Plain fields on one object, so the request hot
 * path reads them with monomorphic property loads; it holds no behaviour
 * beyond construction, which is why no module it names imports it back.
 */
export class DrainerCore {
  readonly server: net.Server;
  readonly settings: ResolvedSettings;
  readonly host: CoreHost;
  readonly registry: Registry;
  readonly diagnostics: Diagnostics;
  /** Requests that reached us and were never answered (stats().unanswered, drainkit:request:unanswered). */
  readonly unanswered: UnansweredCounter;
  readonly strategies: Record<ConnectionProtocol, ProtocolStrategy> & { readonly 'http/1.1': Http1Strategy };
  readonly isTls: boolean;
  readonly isHttp2: boolean;

  // Interception (set by interception.ts attach()).
  originalEmit!: EmitFn;
  hookedEmit!: EmitFn;
  /** A request's single listener may be called directly rather than through `originalEmit` (interception.ts). */
  directListeners = false;
  onConnection!: (socket: Socket) => void;
  onSession!: (session: Http2Session) => void;
  onStreamClose!: (this: ServerHttp2Stream) => void;

  state: DrainerState = 'serving';
  disposed = false;
  upgradedDrainHook: UpgradedDrainHook | undefined = undefined;

  // Shutdown (shutdown.ts).
  shutdownPromise: Promise<DrainReport> | undefined = undefined;
  shutdownOperation: DrainOperation | undefined = undefined;
  shutdownController: AbortController | undefined = undefined;
  /** Set by the first signalFor() of a tracked connection: until then no connection has signals a shutdown must abort. */
  signalsHandedOut = false;
  readonly cleanupHooks: CleanupHook[] = [];
  /** `beforeShutdown()` hooks (before-shutdown.ts), run between readiness failing and the listener closing. */
  readonly beforeShutdownHooks: BeforeShutdownHook[] = [];
  /** `healthCheck()` registrations (health.ts), run by the adapters' readiness handlers. */
  readonly health = new HealthRegistry();
  /** Set when shutdown closes the listener: from then on every new connection drains at once. */
  listenerStopped = false;
  /** Set once shutdown's listener close has completed (every socket Node counts has closed). */
  listenerClosed = false;
  shutdownReport: DrainReport | undefined = undefined;
  /** The shutdown's options, lowered by a later shutdown() call with shorter ones (shutdown.ts). */
  shutdownSettings: OperationSettings | undefined = undefined;
  /** While shutdownDelayMs runs: when it ends, and how to end it sooner. */
  shutdownDelay: { endsAt: number; timer: NodeJS.Timeout | undefined; resolve: () => void } | undefined = undefined;
  /** Once the shutdown drain started: when never-tracked sockets are closed at the latest. */
  shutdownDeadlineAt = Infinity;
  /** TLS servers: raw sockets still in their handshake (untracked.ts); a shutdown closes them at its deadline. */
  readonly handshaking = new Set<Socket>();
  /** Called when the last TLS handshake under way ends, while a shutdown waits for it (tls-handshakes.ts). */
  handshakesSettled: (() => void) | undefined = undefined;
  /**
   * False when the server was neither listening nor holding a connection when
   * the drainer attached: every connection since came through 'connection' (or a
   * session event) and is tracked, so a shutdown need not walk Node's lists for
   * others (untracked.ts adoptUntracked: ~4-11 ms with 10,000 connections).
   * `_connections` is net.Server's own count (lib/net.js, Node 20-26).
   */
  readonly maybeUntracked: boolean;
  onRawTlsConnection!: (socket: Socket) => void;
  /** Pending `socketsClosed()` callers, resolved when no socket is left after shutdown (closing.ts). */
  socketsClosedWaiter: { promise: Promise<void>; resolve: () => void } | undefined = undefined;
  socketsClosedAnnounced = false;

  /**
   * Node's list of this server's HTTP/1.1 parsers (message-in-progress.ts), found
   * as connections are tracked. While it is unknown, each connection's
   * `socket.bytesRead` is read as it goes idle instead, for the same question.
   */
  connectionsList: ConnectionsList | undefined = undefined;

  // Retirement (retirement.ts).
  sweepTimer: NodeJS.Timeout | undefined = undefined;

  // Lingering close (lingering-close.ts).
  /** Released connections whose socket still waits for the client's FIN, with when it is destroyed at the latest. */
  readonly lingering = new Map<Connection, number>();
  lingerTimer: NodeJS.Timeout | undefined = undefined;
  onLingerTimer!: () => void;

  constructor(server: net.Server, settings: ResolvedSettings, host: CoreHost, events: EventEmitter) {
    this.server = server;
    this.settings = settings;
    this.host = host;
    this.registry = new Registry(host.drainerId);
    this.diagnostics = new Diagnostics(events, host.drainerId, settings.logger);
    this.unanswered = new UnansweredCounter(host.drainerId);
    this.isTls = server instanceof tls.Server;
    // Http2Server and Http2SecureServer are not exported; updateSettings() is theirs alone.
    this.isHttp2 = typeof (server as unknown as { updateSettings?: unknown }).updateSettings === 'function';
    this.strategies = { 'http/1.1': new Http1Strategy(host), h2: new Http2Strategy(host), upgraded: new UpgradedStrategy(host) };
    this.maybeUntracked = server.listening || ((server as unknown as { _connections?: number })._connections ?? 1) !== 0;
  }
}
