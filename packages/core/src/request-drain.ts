import type { Drainer } from './drainer.js';
import { looksLikeDrainer } from './drainer-shape.js';
import { DrainError, DrainErrorCodes } from './errors.js';
import type { ConnectionInfo, DrainConnectionOptions, DrainResult } from './types.js';

/**
 * What a framework adapter hands each request (`req.drain` in Express,
 * `ctx.state.drain` in Koa): the request's connection and the two things a
 * handler does with a drain. Framework-neutral, so every adapter shares it.
 */
export interface RequestDrain {
  /** The drainer this request belongs to (for stats, or a drain the handler starts itself). */
  readonly drainer: Drainer;
  /** The request's connection; undefined when this drainer does not track it (a request that came through another server). */
  readonly connection: ConnectionInfo | undefined;
  /**
   * Aborts the moment the request's connection starts draining or the server
   * starts shutting down: SSE, long polling and streaming handlers listen to it,
   * write their last bytes and end.
   */
  readonly signal: AbortSignal;
  /**
   * Close this request's connection gracefully once the current response is
   * sent (logout, rebalancing, "reconnect elsewhere"). Do not await it before
   * responding: it resolves when the connection has closed. Throws a DrainError
   * `ERR_DRAIN_UNKNOWN_CONNECTION` at once when the connection is not tracked.
   */
  drainAfterResponse(options?: DrainConnectionOptions): Promise<DrainResult>;
}

class RequestDrainHandle implements RequestDrain {
  readonly drainer: Drainer;
  readonly connection: ConnectionInfo | undefined;
  private readonly request: object;
  private cachedSignal: AbortSignal | undefined = undefined;

  constructor(drainer: Drainer, request: object) {
    this.drainer = drainer;
    this.request = request;
    this.connection = drainer.connectionOf(request);
  }

  // Lazy: most handlers never look at it, and each signal is an AbortController in core.
  get signal(): AbortSignal {
    return (this.cachedSignal ??= this.drainer.signalFor(this.request));
  }

  drainAfterResponse(options?: DrainConnectionOptions): Promise<DrainResult> {
    // Thrown, not rejected: the usual call is fire-and-forget, and a silent
    // rejection would hide a request that came through a server without this drainer.
    if (!this.connection) {
      throw new DrainError(
        DrainErrorCodes.UNKNOWN_CONNECTION,
        'drainAfterResponse(): this request came in on a connection the drainer does not track (another server?)',
      );
    }
    return this.drainer.drainAfterResponse(this.request, options);
  }

  toJSON(): object {
    return { connection: this.connection?.toJSON() };
  }
}

/** The per-request drain handle for a request (http.IncomingMessage, Http2ServerRequest). */
export function createRequestDrain(drainer: Drainer, request: object): RequestDrain {
  if (request === null || typeof request !== 'object') {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, 'createRequestDrain(drainer, request): request must be an object');
  }
  return new RequestDrainHandle(drainer, request);
}

/** Whether `value` looks like a Drainer (duck-typed, so an ESM and a CJS copy of core both pass). */
export function isDrainerLike(value: unknown): value is Drainer {
  return looksLikeDrainer(value);
}
