import type net from 'node:net';
import type { Socket } from 'node:net';

/**
 * "Has a request begun arriving on this idle HTTP/1.1 connection?", asked only
 * when a drain looks at the connection, so that nothing is read per request.
 *
 * Node keeps every HTTP/1.1 server's parsers in a `ConnectionsList`
 * (`server[kConnections]`, lib/_http_server.js, created on 'listening' by
 * `setupConnectionsTracking`; node_http_parser.cc). Its `active()` lists the
 * parsers whose current message has begun (llhttp's on_message_begin) and not
 * completed: on an idle connection, a request head (or body) on its way.
 * Checked on Node 20.20, 22.23, 24.22 and 26.12: the symbol's description is
 * 'http.server.connections' and the list has `active()` on all four.
 * A server without the list (its sockets were handed in without listen())
 * falls back to comparing `socket.bytesRead` with its value when the
 * connection last went idle (http1-dispatch.ts reads it per response then).
 */

type ConnectionsList = { active(): unknown[] };
type ParserSocket = Socket & { parser?: unknown };

export type { ConnectionsList };

/** Node's `kConnections` symbol (one for http and https servers), once seen on a server. */
let kConnections: symbol | undefined;

/** The server's ConnectionsList, or undefined when it has none (yet: it is made on 'listening'). */
export function connectionsListOf(server: net.Server): ConnectionsList | undefined {
  kConnections ??= Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections');
  if (kConnections === undefined) return undefined;
  const list = (server as unknown as Record<symbol, unknown>)[kConnections] as ConnectionsList | null | undefined;
  return list && typeof list.active === 'function' ? list : undefined;
}

// active() walks the server's parsers with a message in progress: computed once
// per synchronous pass (a shutdown begins every connection's drain in one), and
// forgotten at the next microtask, since the parser only runs on later I/O.
let cachedList: ConnectionsList | undefined;
let cachedActive: Set<unknown> | undefined;

function activeParsers(list: ConnectionsList): Set<unknown> {
  if (cachedList !== list || cachedActive === undefined) {
    cachedList = list;
    cachedActive = new Set(list.active());
    queueMicrotask(() => {
      cachedList = undefined;
      cachedActive = undefined;
    });
  }
  return cachedActive;
}

/**
 * The parsers of `list` with a message in progress, for a pass over many
 * connections (`parser != null && set.has(parser)` is messageInProgress's
 * answer); undefined when the server has no ConnectionsList.
 */
export function activeMessages(list: ConnectionsList | undefined): Set<unknown> | undefined {
  return list === undefined ? undefined : activeParsers(list);
}

/**
 * True when the socket's parser has a message in progress (false when Node has
 * freed its parser: nothing more is parsed on it); undefined when the server has
 * no ConnectionsList (the caller falls back).
 */
export function messageInProgress(list: ConnectionsList | undefined, socket: Socket): boolean | undefined {
  if (list === undefined) return undefined;
  const parser = (socket as ParserSocket).parser;
  return parser !== undefined && parser !== null && activeParsers(list).has(parser);
}
