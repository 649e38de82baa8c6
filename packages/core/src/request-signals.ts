import { IncomingMessage, ServerResponse } from 'node:http';

/**
 * One drain signal per request (issue 12, item 3). A handler's documented
 * pattern, `signal.addEventListener('abort', ..., { once: true })`, must not
 * leave a listener (and its closure over req/res) on a signal that outlives
 * the request: one signal shared by a keep-alive connection collected them
 * all. Each request that asks gets its own AbortController, created lazily
 * (nothing per request for handlers that never ask), registered in its
 * connection's set, which the connection's drain aborts; it leaves the set
 * when its response finishes, so the set holds only requests in flight.
 */

const kRequestController = Symbol('drainkit.requestSignal');

type SignalKey = object & { [kRequestController]?: AbortController };

/**
 * The object a request's signal is kept on: the IncomingMessage of an
 * HTTP/1.1 request (or of a response's request), the ServerHttp2Stream of an
 * HTTP/2 one (Http2ServerRequest/Response carry it as `.stream`).
 * Undefined for anything else (a socket, a session): those keep the
 * connection-wide signal.
 */
export function requestKey(target: object): object | undefined {
  if (target instanceof IncomingMessage) return target;
  if (target instanceof ServerResponse) return target.req ?? undefined;
  const candidate = target as { stream?: unknown; session?: unknown; respond?: unknown };
  // Http2ServerRequest / Http2ServerResponse: the stream is the request.
  const stream = candidate.stream as { session?: unknown; respond?: unknown } | undefined;
  if (stream !== null && typeof stream === 'object' && typeof stream.respond === 'function') return stream;
  // A ServerHttp2Stream itself.
  if (typeof candidate.respond === 'function' && candidate.session !== undefined) return target;
  return undefined;
}

/** The registry of one connection's live request signals. */
export type RequestSignalSet = Set<AbortController>;

/**
 * The request's signal: made on first use and registered in `set` (created
 * by the caller on demand); aborted at once with `abortedWith()` when the
 * connection is already draining or the server shutting down.
 */
export function requestSignal(key: object, set: RequestSignalSet, abortedWith: (() => Error) | undefined): AbortSignal {
  const holder = key as SignalKey;
  let controller = holder[kRequestController];
  if (controller === undefined) {
    controller = new AbortController();
    holder[kRequestController] = controller;
    if (abortedWith) controller.abort(abortedWith());
    else set.add(controller);
  }
  return controller.signal;
}

/** The request's response finished: its signal leaves the set and will never abort. */
export function releaseRequestSignal(key: object | undefined | null, set: RequestSignalSet | undefined): void {
  if (key === undefined || key === null || set === undefined) return;
  const controller = (key as SignalKey)[kRequestController];
  if (controller !== undefined) set.delete(controller);
}

/** Aborts every live request signal of a connection (its drain began, or shutdown). */
export function abortRequestSignals(set: RequestSignalSet | undefined, reason: () => Error): void {
  if (set === undefined || set.size === 0) return;
  const controllers = [...set];
  set.clear();
  for (const controller of controllers) if (!controller.signal.aborted) controller.abort(reason());
}
