import { pauseReading, resumeReading } from './backpressure.js';
import type { Socket } from 'node:net';
import { kConnection } from './connection.js';
import type { Carrier, Connection, DeferringOperation, DrainTask } from './connection.js';
import { activeMessages, connectionsListOf, messageInProgress } from './message-in-progress.js';
import type { ProtocolStrategy, StrategyHost } from './strategy.js';

/** Silence beyond its idle grace after which a connection is closed without the lingering close (see deferStart). */
/** What deferAll() reads off a socket: Node's parser (message-in-progress.ts) and TLS's `encrypted` (Connection.secure). */
type PassSocket = Socket & { parser?: unknown; encrypted?: boolean };

export const LONG_IDLE_MS = 1_000;

/**
 * HTTP/1.1 (plain or TLS). Requests are dispatched one at a time per
 * connection (see http1-dispatch.ts), so at drain time there is at
 * most one request in flight and everything behind it is known not to have
 * started.
 */
export class Http1Strategy implements ProtocolStrategy {
  /** Idle connections about to be ended; each task's `bytesReadAtEnd` is the socket's bytesRead when that was decided. */
  private pendingEnds: Connection[] = [];
  private flushQueued = false;
  /** The connection whose put-off drain closeDeferred is beginning: it was just looked at past this turn's I/O. */
  private looking: Connection | undefined = undefined;
  /** Idle connections whose drain starts in this turn's check phase (deferStart). */
  private deferred: Connection[] = [];
  /** Closed by deferAll() in its pass, recorded by recordClosedAtOnce() once the operation has counted them. */
  private closedAtOnce: Connection[] = [];
  /**
   * A draining connection's `socket.destroySoon`, one function for all of them
   * (the socket is `this`): no closure per connection.
   */
  private readonly destroySoonHook: () => void;

  constructor(private readonly host: StrategyHost) {
    const strategy = this;
    this.destroySoonHook = function (this: Socket) {
      const connection = (this as Carrier)[kConnection];
      const task = connection?.task;
      if (connection === undefined || task === undefined) Object.getPrototypeOf(this).destroySoon.call(this);
      else strategy.endGracefully(connection, task, Date.now());
    };
  }

  begin(connection: Connection, task: DrainTask, now: number): void {
    if (connection.inFlight > 0) {
      this.endAfterResponse(connection);
      const response = connection.currentResponse;
      if (response && !response.headersSent) response.shouldKeepAlive = false;
      // Nothing pipelined behind this response will be served: stop reading at
      // once (backpressure.ts), unless the request's own body is still arriving.
      if (response?.req?.complete !== false) pauseReading(connection.socket);
      return;
    }
    // As Go's Server.Shutdown does, a request whose head is already arriving is
    // served (with `Connection: close`) if it completes before the deadline.
    task.servePartialHead = this.headArriving(connection);
    this.advance(connection, task, now);
    // Not closed at once (a head arriving, or idle grace): a request may still be served.
    if (task.endedAt === 0) this.endAfterResponse(connection);
  }

  /**
   * Node ends a `Connection: close` response with socket.destroySoon(), which
   * destroys the socket once our FIN is written: a TCP reset if the client's
   * next bytes are still unread, which can wipe out the response it has not
   * read yet (RFC 9112 §9.6). Route it through the lingering close instead.
   */
  private endAfterResponse(connection: Connection): void {
    connection.socket.destroySoon = this.destroySoonHook;
  }

  advance(connection: Connection, task: DrainTask, now: number): void {
    if (task.endedAt !== 0) {
      const lingerUntil = task.endedAt + this.host.settings.lingerMs;
      if (now >= lingerUntil) connection.socket.destroy();
      else task.wakeAt = lingerUntil;
      return;
    }
    if (connection.inFlight > 0 || task.servePartialHead) return;
    // Idle: its last response went out without `Connection: close` (or Node would
    // have closed it), so a pooled client or proxy may reuse it at any moment. A
    // request arriving within the grace is served, with `Connection: close`.
    const graceUntil = connection.lastActiveAt + this.host.settings.idleGraceMs;
    if (now < graceUntil) {
      task.wakeAt = graceUntil;
      return;
    }
    this.endAfterThisTurn(connection, task);
  }

  /**
   * A half-close's FIN leaves on a later loop turn, and libuv reads before it
   * sends it (NODE-FACTS.md, Node 20.20): a request already in our receive buffer
   * would be read after end() and discarded. So look once more after this turn's
   * I/O: a request that came meanwhile is served (with `Connection: close`), a
   * head still arriving is served once complete. One setImmediate per loop turn
   * for all connections, none per connection.
   */
  private endAfterThisTurn(connection: Connection, task: DrainTask): void {
    if (this.looking === connection) {
      // Begun from closeDeferred: that was the look past this turn's I/O (begin() found no head arriving).
      this.endGracefully(connection, task, Date.now());
      return;
    }
    task.wakeAt = Infinity;
    if (task.bytesReadAtEnd !== -1) return;
    task.bytesReadAtEnd = connection.socket.bytesRead;
    this.pendingEnds.push(connection);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushEnds);
    }
  }

  private readonly flushEnds = (): void => {
    this.flushQueued = false;
    const pending = this.pendingEnds;
    this.pendingEnds = [];
    const now = Date.now();
    for (const connection of pending) {
      const task = connection.task;
      if (task === undefined) continue;
      const bytesRead = task.bytesReadAtEnd;
      task.bytesReadAtEnd = -1;
      if (task.result || task.endedAt !== 0 || connection.state === 'closed') continue;
      if (connection.inFlight === 0 && !task.servePartialHead) {
        if (connection.socket.bytesRead !== bytesRead) task.servePartialHead = true;
        else this.endGracefully(connection, task, now);
      }
      this.host.advance(task, now);
    }
  };

  /**
   * The lingering close is for a connection a client may be using right now: a
   * response it has not read yet, a request crossing our FIN (read, counted and
   * dropped). One silent for its whole idle grace and LONG_IDLE_MS more had its
   * last response read long ago, and its client is not using it: it is closed as
   * Node core's closeIdleConnections() closes it, close(2), whose FIN leaves in
   * the call. A half-close costs a ShutdownWrap, a poll and the client's FIN per
   * socket, about Node core's whole close (perf and --cpu-prof, Node 20.20).
   * TLS keeps the lingering close: its close_notify goes out before the FIN.
   *
   * So an idle connection's drain starts in this loop turn's check phase, not
   * in the call (one setImmediate for all of them): a request already in our
   * receive buffer is read first and served (it starts the task at once:
   * http1-dispatch.ts). Then every long-idle one still silent is closed, one
   * close(2) after another, before any task, result or registry bookkeeping:
   * with 10,000 of them, that work between two closes put the last client's FIN
   * ~1.6x later than Node core's (bench/README.md); and the call itself only
   * marks them, so the first FIN leaves as soon as Node core's would. The
   * others (used within their grace and 1 s) then begin as before. A request
   * written after that look meets a reset from the kernel instead of our
   * discard: lost either way (nothing is served after our FIN), but not counted.
   */
  deferStart(connection: Connection, operation: DeferringOperation): boolean {
    // Put off by another operation in this same turn: this one starts its task now, the other joins it later.
    if (connection.deferredBy !== undefined || connection.inFlight !== 0 || connection.held !== undefined) return false;
    connection.deferredBy = operation;
    connection.state = 'draining';
    this.deferred.push(connection);
    if (this.deferred.length === 1) setImmediate(this.closeDeferred);
    return true;
  }

  /**
   * deferStart for each of `connections` not draining yet, in one pass; returns
   * how many were put off. `polled`: a poll phase has run since the drain was
   * decided (a shutdown's listener close waits for one: shutdown.ts), so what
   * was in the receive buffers then has been read, which is all that
   * closeDeferred's turn would wait for: a long-idle connection still silent is
   * closed in this pass (recordClosedAtOnce() records it). With 10,000 of them,
   * the pass that only marked them and the loop turn before closeDeferred put the
   * first FIN ~7-13 ms after the shutdown call, against ~4 ms for Node core's
   * closeIdleConnections() (Node 24.22; bench/README.md).
   *
   * The checks are closable()'s, written out in the loop with what they share
   * worked out once: this pass runs once per process, in code that has never run,
   * so each call and getter in it is interpreted until V8 optimizes the loop.
   * Through closable() they cost ~10,700 instructions per connection on Node 20.20
   * (callgrind, 2,000 connections: bench/shutdown-instructions.mjs), a third of
   * what the whole close costs in user space; written out, ~3,500.
   */
  deferAll(connections: Connection[], operation: DeferringOperation, polled = false): number {
    let count = 0;
    const closeNow = polled && !this.host.isDisposed();
    const now = closeNow ? Date.now() : 0;
    // Long idle: silent since this instant or before (longIdle()).
    const idleSince = now - (this.host.settings.idleGraceMs + LONG_IDLE_MS);
    // headArriving()'s answer for a connection whose parsers Node lists.
    const arriving = closeNow ? activeMessages(connectionsListOf(this.host.server)) : undefined;
    for (const connection of connections) {
      // What startTask() checks before it asks deferStart().
      if (connection.protocol !== 'http/1.1' || connection.task !== undefined || connection.state === 'closed') continue;
      const socket = connection.socket as PassSocket;
      if (
        closeNow &&
        connection.deferredBy === undefined &&
        // closable(): long idle, plain TCP, still open, nothing unsent, no head arriving.
        connection.inFlight === 0 &&
        connection.held === undefined &&
        connection.lastActiveAt <= idleSince &&
        socket.encrypted !== true &&
        !socket.destroyed &&
        socket.writableLength === 0 &&
        !(connection.bytesReadAtIdle >= 0
          ? socket.bytesRead > connection.bytesReadAtIdle
          : arriving === undefined || (socket.parser != null && arriving.has(socket.parser)))
      ) {
        connection.deferredBy = operation;
        connection.state = 'draining';
        connection.socket.destroy();
        this.closedAtOnce.push(connection);
        count++;
      } else if (this.deferStart(connection, operation)) count++;
    }
    return count;
  }

  /** Records the connections deferAll() closed: drained, no task made (closing.ts closedBeforeTask). */
  recordClosedAtOnce(): void {
    const closed = this.closedAtOnce;
    if (closed.length === 0) return;
    this.closedAtOnce = [];
    this.recordClosed(closed, Date.now());
  }

  /** Long-idle, nothing unsent, no head arriving, still open: close(2) loses nothing (deferAll writes it out). */
  private closable(connection: Connection, now: number): boolean {
    return !connection.socket.destroyed && this.longIdle(connection, now) && connection.socket.writableLength === 0 && !this.headArriving(connection);
  }

  /** Recorded in runs of one operation (deferAll's are all one; closeDeferred's may mix drains). */
  private recordClosed(closed: Connection[], now: number): void {
    let start = 0;
    while (start < closed.length) {
      const operation = closed[start]!.deferredBy!;
      let end = start + 1;
      while (end < closed.length && closed[end]!.deferredBy === operation) end++;
      const run = start === 0 && end === closed.length ? closed : closed.slice(start, end);
      for (const connection of run) connection.deferredBy = undefined;
      this.host.closedBeforeTask(run, operation, now);
      start = end;
    }
  }

  /** Silent for its idle grace and LONG_IDLE_MS more, nothing in flight, no drain begun; plain TCP. */
  private longIdle(connection: Connection, now: number): boolean {
    return (
      connection.task === undefined &&
      connection.inFlight === 0 &&
      connection.held === undefined &&
      now - connection.lastActiveAt >= this.host.settings.idleGraceMs + LONG_IDLE_MS &&
      !connection.secure
    );
  }

  private readonly closeDeferred = (): void => {
    const connections = this.deferred;
    this.deferred = [];
    let now = Date.now();
    const disposed = this.host.isDisposed();
    let closed: Connection[] | undefined;
    if (!disposed) {
      for (const connection of connections) {
        // Still put off (a request this turn started its task: http1-dispatch.ts) and silent
        // after this turn's I/O (no head arriving, nothing unsent): close(2), FIN in the call.
        if (connection.deferredBy === undefined || connection.state === 'closed' || !this.closable(connection, now)) continue;
        connection.socket.destroy();
        (closed ??= []).push(connection);
      }
    }
    // Every FIN is out: now those connections are recorded as drained (no task is
    // made for them), then the others begin (their idle grace, their lingering close).
    if (closed !== undefined) {
      now = Date.now();
      this.recordClosed(closed, now);
    }
    try {
      for (const connection of connections) {
        const operation = connection.deferredBy;
        if (operation === undefined) continue;
        connection.deferredBy = undefined;
        this.looking = connection;
        operation.startDeferred(connection, now, disposed);
      }
    } finally {
      this.looking = undefined;
    }
  };

  force(connection: Connection, task: DrainTask): void {
    // Forced means something was cut short: a request in flight, or a head
    // being received. An idle connection (in its grace period, or waiting for
    // the client's FIN) loses nothing when it is closed now.
    task.forced = connection.inFlight > 0 || task.servePartialHead || (task.endedAt === 0 && this.headArriving(connection));
    connection.socket.destroy();
  }

  /** True when a request has begun arriving on an idle connection (message-in-progress.ts). */
  private headArriving(connection: Connection): boolean {
    if (connection.inFlight !== 0 || connection.held !== undefined) return false;
    const socket = connection.socket;
    const atIdle = connection.bytesReadAtIdle;
    if (atIdle >= 0) return socket.bytesRead > atIdle;
    return messageInProgress(connectionsListOf(this.host.server), socket) ?? true;
  }

  /** Half-close and keep reading until the client closes too (or the linger ends). */
  endGracefully(connection: Connection, task: DrainTask, now: number): void {
    if (task.endedAt !== 0 || connection.state === 'closed') return;
    task.endedAt = now;
    // Lingering reads until the client's FIN: undo a pause of the drain's start.
    resumeReading(connection.socket, true);
    task.wakeAt = now + this.host.settings.lingerMs;
    connection.socket.end();
    // Released now (lingering-close.ts), not at the operation's next timer (up
    // to idleGraceMs away): until then Node's parser would parse whatever the
    // client writes after our FIN.
    this.host.advance(task, now);
  }
}
