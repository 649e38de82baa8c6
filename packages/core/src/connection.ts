import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionInfo, ConnectionProtocol, ConnectionSnapshot, ConnectionState, DrainResult } from './types.js';

/**
 * Where a socket, an HTTP/2 session or an HTTP/2 stream finds its `Connection`.
 * A symbol property rather than a WeakMap: one property load on the request hot path.
 */
export const kConnection = Symbol('drainkit.connection');

export type Carrier = { [kConnection]?: Connection };

/** The drainer a connection belongs to and reports its close to. */
export interface ConnectionOwner {
  /** Prefix of its connections' ids, so ids are unique in the process. */
  readonly drainerId: string;
  /** HTTP/1.1: the server's responses reach Node's own `detachSocket`, so it is called directly (http1-dispatch.ts reachesNodeDetachSocket). */
  readonly nodeDetachSocket: boolean;
  /** The connection's socket emitted 'close'. */
  socketClosed(connection: Connection): void;
  /** HTTP/1.1: the response in flight finished. */
  /** `written`: the response reached the socket in full (http1-dispatch.ts detachSocketAndReport). */
  responseFinished(connection: Connection, res: ServerResponse, written: boolean): void;
}

/** A request held back behind the one in flight: the event it came with, and its request and response. */
export interface HeldRequest {
  event: string;
  req: IncomingMessage;
  res: ServerResponse;
}

/**
 * The registry's record of one connection. It is handed out as a read-only
 * `ConnectionInfo`; the mutable internals are for core only.
 */
export class Connection implements ConnectionInfo {
  readonly owner: ConnectionOwner;
  /** Registry key. `id` is made from it on demand: no string is kept per connection. */
  readonly key: number;
  readonly openedAt: number;
  protocol: ConnectionProtocol;
  lastActiveAt: number;
  requestsServed = 0;
  inFlight = 0;
  state: ConnectionState = 'idle';

  /** The socket HTTP reads from: the TLSSocket for TLS, else the net.Socket. */
  readonly socket: Socket;
  /** Set for HTTP/2 connections. */
  session: Http2Session | undefined = undefined;
  /** Set for upgraded connections: the socket handed to the `upgrade` listener. */
  upgradedSocket: Duplex | undefined = undefined;
  /** HTTP/1.1: the response being produced right now (one at a time per connection). */
  currentResponse: ServerResponse | undefined = undefined;
  /** HTTP/1.1: pipelined requests held back until the one in flight finishes. */
  held: HeldRequest[] | undefined = undefined;
  /** HTTP/1.1: requests behind a drained connection's first held one, dropped as Node parsed them (request-gate.ts); counted with `held`. */
  heldDropped = 0;
  /**
   * HTTP/1.1: `socket.bytesRead` when the connection last became idle (0: it has
   * served nothing yet); more means a head is arriving. -1 once a response has
   * finished on a server whose parsers Node lists: that list answers instead
   * (message-in-progress.ts; Node counts a fresh connection's parser as busy).
   */
  bytesReadAtIdle = 0;
  /** HTTP/2: the highest stream id dispatched to the application. */
  lastStreamId = 0;
  /** When age-based rebalancing drains it (0: never). */
  retireAt = 0;
  /** Set while the connection drains. */
  task: DrainTask | undefined = undefined;
  /** Set while a drain operation's start of this connection is put off (http1-drain.ts deferStart); its task comes later in the turn. */
  deferredBy: DeferringOperation | undefined = undefined;
  /** Created on the first `signalFor` of the connection itself (a socket or session). */
  abortController: AbortController | undefined = undefined;
  /** The signals of its requests in flight that someone asked for (request-signals.ts); a drain aborts them. */
  requestSignals: Set<AbortController> | undefined = undefined;

  constructor(owner: ConnectionOwner, key: number, socket: Socket, protocol: ConnectionProtocol, now: number) {
    this.owner = owner;
    this.key = key;
    this.socket = socket;
    this.protocol = protocol;
    this.openedAt = now;
    this.lastActiveAt = now;
  }

  get id(): string {
    return `${this.owner.drainerId}-${this.key}`;
  }

  // The peer address is read from the socket on demand (Node caches it there
  // once read), not copied into every connection: memory per connection is a goal.
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get secure(): boolean {
    return (this.socket as Socket & { encrypted?: boolean }).encrypted === true;
  }

  toJSON(): ConnectionSnapshot {
    return {
      id: this.id,
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      protocol: this.protocol,
      secure: this.secure,
      openedAt: this.openedAt,
      lastActiveAt: this.lastActiveAt,
      requestsServed: this.requestsServed,
      inFlight: this.inFlight,
      state: this.state,
    };
  }
}

/** What a task needs of the drain operations waiting on it (DrainOperation in drain.ts). */
export interface TaskOperation {
  /** Makes sure the operation's timer fires no later than `at`. */
  schedule(at: number): void;
  /** The task has its result (called from settle(); the operation records it later, not from inside). */
  taskSettled(task: DrainTask): void;
}

/** A drain operation that a strategy let put off a connection's start (ProtocolStrategy.deferStart). */
export interface DeferringOperation {
  readonly startedAt: number;
  readonly settings: { readonly reason: string | undefined };
  /** Starts the put-off drain now (`skip`: the drainer was disposed meanwhile, leave the connection alone). */
  startDeferred(connection: Connection, now: number, skip: boolean): void;
  /** Put-off connections were closed before tasks were made for them: their results. */
  closedDeferred(results: readonly DrainResult[], now: number): void;
}

/** A drain's result, as DrainTask.settle() makes it (and closing.ts closedBeforeTask() for a connection that never had a task). */
export function drainResult(
  connection: Connection,
  counts: Pick<DrainTask, 'forced' | 'completedRequests' | 'droppedRequests' | 'abortedRequests'>,
  reason: string | undefined,
  durationMs: number,
): DrainResult {
  return {
    id: connection.id,
    forced: counts.forced,
    durationMs,
    completedRequests: counts.completedRequests,
    droppedRequests: counts.droppedRequests,
    abortedRequests: counts.abortedRequests,
    reason,
    protocol: connection.protocol,
  };
}

/** The drain of one connection. Shared by every operation that asked for it. */
export class DrainTask {
  readonly connection: Connection;
  readonly startedAt: number;
  readonly reason: string | undefined;
  /** When the connection is destroyed if still open: the earliest deadline of the operations waiting on it. */
  deadlineAt: number;
  /** When the strategy wants to look at the connection again (idle grace, linger, GOAWAY ping). */
  wakeAt = Infinity;
  completedRequests = 0;
  droppedRequests = 0;
  abortedRequests = 0;
  forced = false;
  /** HTTP/1.1 and upgraded: when our FIN was sent; from then on we only wait for the peer's. HTTP/2: when `session.close()` was called (the FIN follows). */
  endedAt = 0;
  /** HTTP/1.1: a request head was arriving when the drain began, so it is served once complete. */
  servePartialHead = false;
  /** HTTP/1.1: `socket.bytesRead` when its end was decided, while it waits for the turn's end (http1-drain.ts); -1 otherwise. */
  bytesReadAtEnd = -1;
  /** HTTP/2: 0 before, 1 after the first GOAWAY(2^31-1), 2 after the final GOAWAY. */
  goawayPhase: 0 | 1 | 2 = 0;
  readonly operations: TaskOperation[] = [];
  result: DrainResult | undefined = undefined;
  // Made on first use: most drains of idle connections are over before anyone awaits them.
  private settled: Promise<DrainResult> | undefined = undefined;
  private resolvePromise: ((result: DrainResult) => void) | undefined = undefined;

  constructor(connection: Connection, now: number, deadlineAt: number, reason: string | undefined) {
    this.connection = connection;
    this.startedAt = now;
    this.deadlineAt = deadlineAt;
    this.reason = reason;
  }

  /** Resolves with the result once the connection is drained (or forced). */
  get promise(): Promise<DrainResult> {
    if (this.settled === undefined) {
      this.settled = this.result
        ? Promise.resolve(this.result)
        : new Promise((resolve) => {
            this.resolvePromise = resolve;
          });
    }
    return this.settled;
  }

  /** Earliest time any operation's timer must look at this task again. */
  get nextCheckAt(): number {
    return this.wakeAt < this.deadlineAt ? this.wakeAt : this.deadlineAt;
  }

  settle(now: number): DrainResult {
    if (this.result) return this.result;
    this.result = drainResult(this.connection, this, this.reason, now - this.startedAt);
    this.resolvePromise?.(this.result);
    for (const operation of this.operations) operation.taskSettled(this);
    return this.result;
  }
}
