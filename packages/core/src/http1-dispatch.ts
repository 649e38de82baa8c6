import { ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { Socket } from 'node:net';
import { kConnection } from './connection.js';
import type { Carrier, Connection, DrainTask } from './connection.js';
import { track } from './connection-tracking.js';
import type { DrainerCore } from './core.js';
import { advance } from './drain-control.js';
import { MAX_HELD_REQUESTS, RESUME_HELD_REQUESTS, pauseReading, resumeReading } from './backpressure.js';
import { gateRequests } from './request-gate.js';
import { releaseRequestSignal } from './request-signals.js';
import { retireIfDue } from './retirement.js';

/**
 * HTTP/1.1 requests, one at a time per connection: Node starts pipelined
 * handlers concurrently, and "not yet started" has to mean something for a
 * drain. A request arriving while another is in flight is held and
 * dispatched when the first response finishes (or dropped by a drain).
 */

/** The 'request' / 'checkContinue' / 'checkExpectation' emit, routed here by interception.ts. */
export function onRequest(core: DrainerCore, event: string, req: IncomingMessage, res: ServerResponse): boolean {
  let connection = (req.socket as Carrier | null)?.[kConnection];
  if (connection === undefined && req.httpVersionMajor === 1 && req.socket && !req.socket.destroyed) {
    // A keep-alive connection opened before the drainer was attached: adopt it on its next request.
    connection = track(core, req.socket, 'http/1.1');
  }
  if (connection?.state === 'closed') {
    // Released: its FIN is out and it only lingers. A request that raced the
    // FIN (parsed from the same read as the one before) is never dispatched;
    // the client sees the close and may retry it (RFC 9112 §9.3.1).
    core.unanswered.count(1, 'after-fin', connection.id);
    return true;
  }
  if (!connection || connection.protocol !== 'http/1.1') {
    return core.originalEmit.call(core.server, event, req, res);
  }
  const task = connection.task;
  // One request at a time per connection: Node starts pipelined handlers
  // concurrently, and "not yet started" has to mean something for a drain.
  if (connection.inFlight > 0 || (task !== undefined && task.endedAt !== 0)) {
    const held = (connection.held ??= []);
    held.push({ event, req, res });
    // Draining: nothing held will be served, nor anything after it (responses
    // go in order). The requests Node parses behind it are dropped as they come
    // instead of being queued by Node until the socket closes (request-gate.ts).
    if (task !== undefined) gateRequests(connection.socket, () => droppedAtGate(core, connection));
    // Bounded, as Node bounds queued output: past the bound, or once the
    // connection drains, the socket stops reading. Re-checked per request,
    // since Node's own socketOnDrain may resume a socket we paused. See backpressure.ts.
    if (held.length >= MAX_HELD_REQUESTS || task !== undefined) pauseReading(connection.socket);
    return true;
  }
  dispatch(core, connection, event, req, res);
  return true;
}

/** A request Node parsed behind a drained connection's first held one. */
function droppedAtGate(core: DrainerCore, connection: Connection): void {
  if (connection.state === 'closed') {
    // Released (its FIN is out) while the parser was still in the read: as in onRequest.
    core.unanswered.count(1, 'after-fin', connection.id);
    return;
  }
  connection.heldDropped++;
  pauseReading(connection.socket);
}

function dispatch(core: DrainerCore, connection: Connection, event: string, req: IncomingMessage, res: ServerResponse): void {
  connection.inFlight++;
  connection.currentResponse = res;
  // Told of the response's end by Node's own detachSocket() call when it
  // finishes: a 'close' listener per response costs measurably more per
  // request. A response cut short ends with its socket, whose close we see.
  (res as ServerResponse & { detachSocket: typeof detachSocketAndReport }).detachSocket = detachSocketAndReport;
  retireIfDue(core, connection);
  let task = connection.task;
  // Its drain was put off to this turn's end (a long-idle connection, http1-drain.ts deferStart): it starts now.
  if (task === undefined && connection.deferredBy !== undefined) task = startDeferredNow(connection);
  if (task) {
    // Served during a drain (a head that was arriving, or within idle grace): the last one.
    task.servePartialHead = false;
    res.shouldKeepAlive = false;
    connection.state = 'draining';
  } else {
    connection.state = 'active';
  }
  const events = core.directListeners ? (core.server as unknown as ServerWithEvents)._events : undefined;
  // A named load for 'request': the server's _events is a dictionary object, and V8 left the keyed
  // load a generic KeyedLoadIC call per request (Node 24.22, 26.12; the same on Node 20.20).
  const listener = events === undefined ? undefined : event === 'request' ? events.request : events[event];
  // The one listener called as EventEmitter.emit would call it (interception.ts
  // says when that is the same): emit's rest arguments and apply cost ~200
  // instructions per request once drainkit's dispatch sits between Node and emit.
  if (typeof listener === 'function') listener.call(core.server, req, res);
  else core.originalEmit.call(core.server, event, req, res);
}

type ServerWithEvents = { _events: Record<string, unknown> & { request?: unknown } };

function startDeferredNow(connection: Connection): DrainTask | undefined {
  const operation = connection.deferredBy!;
  connection.deferredBy = undefined;
  operation.startDeferred(connection, Date.now(), false);
  return connection.task;
}

/** ConnectionOwner: the response in flight on the connection finished (Node detached it from the socket). */
export function responseFinished(core: DrainerCore, connection: Connection, res: ServerResponse, written: boolean): void {
  if (connection.state === 'closed' || connection.currentResponse !== res) return;
  const now = Date.now();
  connection.inFlight--;
  connection.currentResponse = undefined;
  connection.lastActiveAt = now;
  // No signal, drain or held request: the common case, kept small in bytecode. V8 inlines
  // this into Node's resOnFinish, where the whole function used up TurboFan's inlining
  // budget and left Node's own callees there as calls (Node 20.20, 24.22, 26.12).
  if (connection.requestSignals !== undefined || connection.task !== undefined || connection.held !== undefined) {
    finishedWithMore(core, connection, res, written, now);
    return;
  }
  if (written) connection.requestsServed++;
  // A no-op unless the socket was paused and Node's own output does not want it paused.
  resumeReading(connection.socket);
  markIdle(core, connection);
}

function finishedWithMore(core: DrainerCore, connection: Connection, res: ServerResponse, written: boolean, now: number): void {
  // `res.req` only when some signal may be registered: behind Express or Koa, every
  // property read on a response is a lookup V8 cannot cache (see detachSocketAndReport).
  if (connection.requestSignals !== undefined) releaseRequestSignal(res.req, connection.requestSignals);
  const task = connection.task;
  // Node emits 'finish' (and so detaches) also when a forced destroy cut the
  // response: its pending write callbacks run without an error. A response
  // that finished on a socket a forced drain destroyed did not reach the client.
  const cut = task !== undefined && task.forced && connection.socket.destroyed;
  if (written && !cut) {
    connection.requestsServed++;
    if (task) task.completedRequests++;
  } else if (task) {
    task.abortedRequests++;
  }
  if (task) {
    // Paused when the drain began (nothing behind this response was to be
    // served): read again, so that the idle grace can serve a request on its
    // way, and the lingering close can see the client's FIN.
    resumeReading(connection.socket);
    advance(core, task, now);
    return;
  }
  const next = connection.held?.shift();
  const left = connection.held?.length ?? 0;
  if (left === 0) connection.held = undefined;
  // The queue is emptying: read again (a no-op unless the socket was paused and Node's own output does not want it paused).
  if (left <= RESUME_HELD_REQUESTS) resumeReading(connection.socket);
  if (next && !connection.socket.destroyed) {
    dispatch(core, connection, next.event, next.req, next.res);
    return;
  }
  markIdle(core, connection);
}

/**
 * The connection has nothing in flight: what it reads from now on is a new request
 * (http1-drain.ts headArriving). Also for an idle connection adopted late (untracked.ts).
 */
export function markIdle(core: DrainerCore, connection: Connection): void {
  connection.state = 'idle';
  // Read only for a server whose parsers Node does not list (message-in-progress.ts):
  // it costs a C++ call and a heap number per response. -1: ask Node's list.
  connection.bytesReadAtIdle = core.connectionsList === undefined ? connection.socket.bytesRead : -1;
}

/**
 * A response already in flight on a connection drainkit adopts late (opened
 * before createDrainer, found at shutdown: untracked.ts): counted in flight,
 * and its end learnt the same way as a dispatched one's.
 */
export function adoptInFlight(connection: Connection, res: ServerResponse): void {
  connection.inFlight++;
  connection.currentResponse = res;
  connection.state = 'active';
  (res as ServerResponse & { detachSocket: typeof detachSocketAndReport }).detachSocket = detachSocketAndReport;
}

/**
 * Installed as a dispatched response's own `detachSocket`, which Node's HTTP
 * server calls once when the response has finished, before it hands the socket
 * to the next pipelined response.
 */
function detachSocketAndReport(this: ServerResponse, socket: Socket): void {
  const connection = (socket as Carrier)[kConnection];
  // The prototype's detachSocket, as Node would have called it: Node's own when the
  // drainer found the server's class does not override it (reachesNodeDetachSocket) and
  // nobody patched it since, else asked of the response's prototype. Not asked per
  // request: Object.getPrototypeOf goes through V8's runtime on Node 26 (~170
  // instructions). Called as a constant: a function loaded per call cost ~+90 on
  // Node 20, where V8 inlined the old lookup (bench/instructions-notes.md).
  if (connection !== undefined && connection.owner.nodeDetachSocket && nodeResponse.detachSocket === nodeDetachSocket) {
    nodeDetachSocket.call(this, socket);
  } else {
    (Object.getPrototypeOf(this) as ServerResponse).detachSocket.call(this, socket);
  }
  // Written in full: Node detaches in resOnFinish, on the response's 'finish', which
  // end() emits once its last write's callback ran (lib/_http_outgoing.js onFinish;
  // Node 20.20, 22.23, 24.22, 26.12), so `finished` holds and `outputSize` is 0, and
  // what `res.writableFinished` adds is the socket's own buffer being empty. Asked of
  // the socket, not the response: Express sets each response's prototype, and on
  // Node 20 and 22 that gives every response a map of its own, so each property read
  // on it misses V8's caches (~1,000 instructions each under callgrind;
  // bench/instructions-notes.md).
  if (connection !== undefined) connection.owner.responseFinished(connection, this, socket.writableLength === 0);
}

const nodeResponse = ServerResponse.prototype;
const nodeDetachSocket = nodeResponse.detachSocket;

/** Node's `Symbol(ServerResponse)`: the class an http(s) server makes its responses with (lib/_http_server.js, Node 20.20, 22.23, 24.22, 26.12). */
let kServerResponse: symbol | undefined;

/**
 * True when every response of `server` reaches Node's own `detachSocket`: the
 * server's response class (`createServer({ ServerResponse })`) does not override
 * it. Express's per-response prototypes (`app.response`) inherit from Node's and
 * define none. False (each response's own prototype is asked) for a class with
 * its own detachSocket, which Express's prototypes would bypass, and for servers
 * without the symbol.
 */
export function reachesNodeDetachSocket(server: net.Server): boolean {
  kServerResponse ??= Object.getOwnPropertySymbols(server).find((s) => s.description === 'ServerResponse');
  if (kServerResponse === undefined) return false;
  const cls = (server as unknown as Record<symbol, unknown>)[kServerResponse];
  const proto = typeof cls === 'function' ? (cls.prototype as ServerResponse | undefined) : undefined;
  return proto !== undefined && proto !== null && proto.detachSocket === nodeDetachSocket;
}
