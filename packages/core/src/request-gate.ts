import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

type OnIncoming = ((req: IncomingMessage, keepAlive: boolean) => number) & { [kGate]?: RequestGate };
type NodeParser = { onIncoming?: OnIncoming | null; incoming?: IncomingMessage | null };

// On the gate function, not the parser: Node pools parsers, and `cleanParser` drops onIncoming (and so the gate) with its connection.
const kGate = Symbol('drainkit.requestGate');

interface RequestGate {
  readonly original: OnIncoming;
  /** Requests dropped at the gate: their count was handed to `onDropped`. */
  dropped: number;
}

/**
 * A draining HTTP/1.1 connection that drops a pipelined request can answer
 * nothing after it (responses go out in request order), yet Node's parser goes
 * on: it parses a whole read (up to 64 KiB, ~1,700 minimal GETs) in one
 * execute() and cannot be paused from its callbacks, and for each request its
 * `parserOnIncoming` (lib/_http_server.js) makes a ServerResponse and queues
 * both in the connection's `state.incoming` / `state.outgoing`, which only the
 * socket's close lets go: ~1.5 KB a request, kept while the socket lingers
 * (issue 12 item 2: +6 MB per client pipelining after the drain, Node 20.20).
 *
 * Here the parser's `onIncoming` is replaced for the rest of the connection: a
 * request is counted and left unanswered, nothing is queued; its
 * IncomingMessage is garbage once the parser moves on. An upgrade or CONNECT
 * still goes to Node (it stops the parser). Checked on Node 20.20, 22.23, 24.22:
 * `parserOnHeadersComplete` (lib/_http_common.js) reads `parser.onIncoming`
 * per request, and `cleanParser` resets it when the parser goes back to its pool.
 */
export function gateRequests(socket: Socket, onDropped: () => void): void {
  const parser = (socket as Socket & { parser?: NodeParser | null }).parser;
  const original = parser?.onIncoming;
  if (!parser || typeof original !== 'function' || original[kGate] !== undefined) return;
  const gate: RequestGate = { original, dropped: 0 };
  const gated: OnIncoming = function gatedOnIncoming(this: unknown, req: IncomingMessage, keepAlive: boolean): number {
    if ((req as IncomingMessage & { upgrade?: boolean }).upgrade) return Reflect.apply(original, this, [req, keepAlive]) as number;
    gate.dropped++;
    onDropped();
    const headers = req.headers;
    // A body would fill the unread request and stop the socket (parserOnBody's readStop): let it flow away.
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) req.resume();
    // None: the parser lets go of the request now, and its end (parserOnMessageComplete) is skipped, as
    // for a request Node has cleared (clearIncoming): no stream work per request, ~1/3 of the cost of one.
    else parser.incoming = null;
    return 0;
  };
  gated[kGate] = gate;
  parser.onIncoming = gated;
}

/**
 * dispose(): Node's own handling again. Returns the requests dropped at the
 * gate: when any were, the responses still to come would answer the wrong
 * requests, so the caller ends the connection after the ones it still has.
 */
export function ungateRequests(socket: Socket): number {
  const parser = (socket as Socket & { parser?: NodeParser | null }).parser;
  const gate = parser?.onIncoming?.[kGate];
  if (!parser || gate === undefined) return 0;
  parser.onIncoming = gate.original;
  return gate.dropped;
}
