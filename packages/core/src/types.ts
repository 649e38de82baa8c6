import type { Duplex } from 'node:stream';

export type ConnectionProtocol = 'http/1.1' | 'h2' | 'upgraded';
export type ConnectionState = 'idle' | 'active' | 'draining' | 'closed';
export type DrainerState = 'serving' | 'shutting-down' | 'closed';

/**
 * A tracked connection. The object is a live view: its fields change as the
 * connection serves requests, and `state` becomes `'closed'` when it closes.
 */
export interface ConnectionInfo {
  /** Unique per drainer. */
  readonly id: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly protocol: ConnectionProtocol;
  /** True for TLS connections. */
  readonly secure: boolean;
  /** ms since epoch. */
  readonly openedAt: number;
  /** ms since epoch: when its last request (HTTP/2: stream) finished, or when it opened. */
  readonly lastActiveAt: number;
  /** Requests (HTTP/1.1) or streams (HTTP/2) that completed. */
  readonly requestsServed: number;
  /** Requests or streams dispatched to the application and not finished yet. */
  readonly inFlight: number;
  readonly state: ConnectionState;
  /** Plain-object copy, without the socket (what JSON.stringify gives). */
  toJSON(): ConnectionSnapshot;
}

export interface ConnectionSnapshot {
  id: string;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  protocol: ConnectionProtocol;
  secure: boolean;
  openedAt: number;
  lastActiveAt: number;
  requestsServed: number;
  inFlight: number;
  state: ConnectionState;
}

export interface DrainResult {
  id: string;
  /** True when the deadline was reached and the connection was destroyed. */
  forced: boolean;
  durationMs: number;
  /** Requests in flight when the drain started (or let in while it ran) that finished normally. */
  completedRequests: number;
  /** Requests received but never dispatched to the application (pipelined, or refused HTTP/2 streams). */
  droppedRequests: number;
  /** In-flight requests cut off by the forced close. */
  abortedRequests: number;
  reason: string | undefined;
  protocol: ConnectionProtocol;
}

export type DrainKind = 'connection' | 'batch' | 'shutdown';

export interface DrainReport {
  kind: DrainKind;
  /** Connections this drain covered. */
  total: number;
  /** Connections that closed gracefully. */
  closed: number;
  /** Connections that had to be destroyed at the deadline. */
  forced: number;
  durationMs: number;
  results: DrainResult[];
}

export interface DrainStats {
  open: number;
  idle: number;
  active: number;
  draining: number;
  inFlight: number;
  /** Connections accepted since the drainer was attached. */
  accepted: number;
  /** Connections closed since the drainer was attached. */
  closed: number;
  /** Connections among `closed` that a drain had to destroy. */
  forcedClosed: number;
  /** Connections drained gracefully since the drainer was attached. */
  drained: number;
  /**
   * Sockets of drained connections (already counted in `closed`) that have
   * sent their FIN and wait, at most `lingerMs`, for the client's.
   */
  lingering: number;
  /**
   * Requests that reached the server and were never answered, since the drainer
   * was attached: held behind a drain, read after drainkit's FIN (discarded
   * unparsed), HTTP/2 streams refused after the final GOAWAY. A proxy answers
   * such a request with 502 or drops its client's connection unless it retries.
   */
  unanswered: number;
  state: DrainerState;
}

export type ConnectionFilter = (connection: ConnectionInfo) => boolean;

/** Anything with pino-style methods; pino, console-like wrappers and bunyan all fit. */
export interface DrainLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DrainerOptions {
  /** Grace period of a drain before remaining connections are destroyed. Default 10 000 ms. */
  timeoutMs?: number;
  /**
   * An idle keep-alive connection that was active less than this long ago stays
   * open until this much time has passed since its last activity, so a pooled
   * client reusing it at that instant is served instead of reset. Default 1 000 ms
   * (a shutdown waits at most that much longer; docs/proxies.md says why).
   * HTTP/2: a session whose first stream has not arrived, opened less than this
   * long ago, gets its first GOAWAY once that stream arrives (and is served) or
   * the time is up; 0 sends it at once.
   */
  idleGraceMs?: number;
  /**
   * After drainkit half-closes a connection it keeps reading until the client
   * closes its side, at most this long, so that the close is not a TCP reset
   * (RFC 9112 §9.6). Default 1 000 ms. An HTTP/1.1 client that writes more than 1 MiB
   * meanwhile is reset then (it is not about to close). A plain-TCP connection
   * silent for `idleGraceMs` + 1 s is closed without lingering, as Node core
   * closes an idle connection (docs/protocols.md).
   */
  lingerMs?: number;
  /** HTTP/2: how long to wait for the PING round trip between the two GOAWAY frames. Default 1 000 ms. */
  goawayPingTimeoutMs?: number;
  /** A pino-style logger; silent by default. */
  logger?: DrainLogger;
  /** Drain a connection once it is this old (± jitter), so keep-alive clients rebalance. */
  maxConnectionAgeMs?: number;
  /** Fraction of `maxConnectionAgeMs` used as random jitter. Default 0.1 (±10%). */
  maxConnectionAgeJitter?: number;
  /** Drain a connection after it has served this many requests. */
  maxRequestsPerConnection?: number;
  /** Readiness fails at once on shutdown; listening goes on this long before the drain. Default 0. */
  shutdownDelayMs?: number;
}

export interface DrainConnectionOptions {
  timeoutMs?: number;
  reason?: string;
}

export interface DrainOptions {
  timeoutMs?: number;
  /** At most this many connections draining at once. Default: all. */
  concurrency?: number;
  /** Start the drains evenly over this many ms, to avoid a reconnect storm. Default 0. */
  spreadMs?: number;
  reason?: string;
}

export interface ShutdownOptions {
  timeoutMs?: number;
  reason?: string;
  /** Overrides the drainer's `shutdownDelayMs` for this shutdown. */
  shutdownDelayMs?: number;
}

/** How an upgraded (e.g. WebSocket) connection is wound down when it is drained. */
export type UpgradedDrainHook = (socket: Duplex, connection: ConnectionInfo) => void;
