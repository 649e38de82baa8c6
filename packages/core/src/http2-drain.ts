import { constants } from 'node:http2';
import type { Socket } from 'node:net';
import { kConnection } from './connection.js';
import type { Carrier, Connection, DrainTask } from './connection.js';
import type { ProtocolStrategy, StrategyHost } from './strategy.js';

/** Largest stream id (RFC 9113 §5.1.1): "no stream is refused yet" in the first GOAWAY. */
const MAX_STREAM_ID = 2 ** 31 - 1;
/**
 * With no stream open, how long after the first GOAWAY the final one follows.
 * Until nghttp2 has written the first GOAWAY it still reads, and a stream
 * already arriving is served (and keeps the socket read); after it nothing is
 * read, so waiting longer only delays the close (issue 16: with 10 ms Chromium
 * saw neither the 1 s delay nor more failures than with `session.close()`).
 */
const IDLE_SETTLE_MS = 10;
/**
 * The same once the last open stream closes during the PING round trip. Longer:
 * a client that had streams open is likely to have more on the wire, and nghttp2
 * may still read while it flushes the last response.
 */
const LAST_STREAM_SETTLE_MS = 100;
/**
 * A new session's wait for its first stream ends at least this long, or a
 * quarter of the drain's timeout, before the drain's deadline: time for both
 * GOAWAYs (IDLE_SETTLE_MS apart) and the close, even on a loaded machine, so
 * that a short `timeoutMs` does not cut a session that had nothing to lose.
 */
const FIRST_STREAM_DEADLINE_MARGIN_MS = 50;

/**
 * HTTP/2: the graceful two-step GOAWAY of RFC 9113 §6.8, as Cowboy, Envoy and
 * grpc-go do it. GOAWAY(2^31-1, NO_ERROR) first, so the client stops opening
 * streams; after a PING round trip (every stream it opened before seeing the
 * GOAWAY has then reached us) the final GOAWAY names the last stream we
 * processed. Streams above it are refused (REFUSED_STREAM: safe to retry) by
 * http2-streams.ts; the rest finish; then the session closes.
 *
 * The PING round trip is only waited for while a stream is open. Once the
 * server has sent a GOAWAY and no stream is open, nghttp2's
 * `nghttp2_session_want_read()` returns 0 and Node stops reading the socket
 * (`Http2Session::MaybeStopReading`, src/node_http2.cc; checked on Node 20.20,
 * 22.23 and 24.22): the client's PING ACK (Chromium and curl send it within a
 * millisecond) and any HEADERS it sent are never read, so waiting longer only
 * delays the close by `goawayPingTimeoutMs`. So with no stream open the final
 * GOAWAY follows after IDLE_SETTLE_MS: at most that much later than
 * `session.close()`, which refuses streams already on the wire at once.
 *
 * Once the last stream has closed, `session.close()`; Node then ends the
 * socket, our FIN, and the drain is over the moment it is out
 * (lingering-close.ts): the socket lingers for the client's FIN on the
 * drainer's one linger timer, as an HTTP/1.1 one does.
 */
export class Http2Strategy implements ProtocolStrategy {
  /** The socket's 'finish' listener, one function for every session (`this` is the socket). */
  private readonly finSent: (this: Socket) => void;

  constructor(private readonly host: StrategyHost) {
    this.finSent = function (this: Socket) {
      const task = (this as Carrier)[kConnection]?.task;
      if (task !== undefined) host.advance(task, Date.now());
    };
  }

  begin(connection: Connection, task: DrainTask, now: number): void {
    const session = connection.session;
    // A session whose first stream has not arrived yet, opened less than
    // idleGraceMs ago: its client is about to send the request it connected
    // for. The first GOAWAY waits for that stream (or the grace's end), as an
    // HTTP/1.1 connection waits for its first request: a GOAWAY now leaves
    // nghttp2 reading nothing more, and that request would be refused. Chromium
    // resends a refused stream only on a new connection, so a navigation
    // meeting a drain failed with ERR_HTTP2_SERVER_REFUSED_STREAM (measured:
    // docs/protocols.md). Likewise with no session yet: tracked at 'connection' /
    // 'secureConnection' before Node's http2 listener made it, and joining a
    // shutdown in that call (a TLS handshake that ended after the listener
    // closed); an end() here cancelled the request its client had written.
    const open = session === undefined ? !connection.socket.destroyed : !session.destroyed;
    if (open && connection.inFlight === 0 && this.awaitFirstStream(connection, task, now)) return;
    // firstGoaway() ends the socket of a session already gone (or never made).
    if (!open) this.firstGoaway(connection, task, now);
    else this.afterNextPoll(connection);
  }

  /**
   * The first GOAWAY waits for the check phase after the next poll phase, when
   * whatever the client had sent before the drain began has been read: once a
   * GOAWAY is sent, nghttp2 accepts no new stream (checked on Node 20.20, 22.23,
   * 24.22 and 26.12: a HEADERS frame read after it gets no response and no
   * RST_STREAM), and the final GOAWAY then refuses it. A drain decided in an I/O
   * callback sent it before the next poll read the socket: on a busy backend
   * behind HAProxy (proto h2), requests waiting 0.1–2.4 ms in the receive buffer
   * were refused, and HAProxy, which resends only with retry-on, reset its
   * clients: 2–5 per 40 drains (soak/proxy/run.mjs --proxies haproxy-h2). One
   * setImmediate pair per batch of sessions, not a timer; the task stays in
   * phase 0, so a stream arriving meanwhile (onStream) sends the GOAWAY at once.
   */
  private afterNextPoll(connection: Connection): void {
    this.pending.push(connection);
    if (this.pending.length === 1) setImmediate(() => setImmediate(this.flushPending));
  }

  private pending: Connection[] = [];

  private readonly flushPending = (): void => {
    const pending = this.pending;
    this.pending = [];
    const now = Date.now();
    for (const connection of pending) {
      const task = connection.task;
      // Moved on meanwhile (a stream came, the deadline forced it, the session closed).
      if (task === undefined || task.goawayPhase !== 0 || connection.state === 'closed') continue;
      this.firstGoaway(connection, task, now);
      this.host.reschedule(task);
    }
  };

  /** True (and the task's wake set) while a session that has had no stream waits for its first. */
  private awaitFirstStream(connection: Connection, task: DrainTask, now: number): boolean {
    if (connection.lastStreamId !== 0) return false;
    const margin = Math.max(FIRST_STREAM_DEADLINE_MARGIN_MS, (task.deadlineAt - task.startedAt) / 4);
    const until = Math.min(connection.lastActiveAt + this.host.settings.idleGraceMs, task.deadlineAt - margin);
    if (now >= until) return false;
    task.wakeAt = until;
    return true;
  }

  private firstGoaway(connection: Connection, task: DrainTask, now: number): void {
    const session = connection.session;
    if (!session || session.destroyed) {
      connection.socket.end();
      return;
    }
    task.goawayPhase = 1;
    const pingTimeoutMs = this.host.settings.goawayPingTimeoutMs;
    // Idle: once the first GOAWAY is out nothing more is read (see above).
    task.wakeAt = now + (connection.inFlight === 0 ? Math.min(IDLE_SETTLE_MS, pingTimeoutMs) : pingTimeoutMs);
    try {
      session.goaway(constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      session.ping((error) => {
        if (error || task.goawayPhase !== 1 || connection.state === 'closed') return;
        this.finalGoaway(connection, task);
        // Through the host: the close, the deadline, and the release once the FIN is out.
        this.host.advance(task, Date.now());
      });
    } catch {
      // The session is closing on its own; the timer moves it on.
    }
  }

  advance(connection: Connection, task: DrainTask, now: number): void {
    if (task.goawayPhase === 0) {
      // In the first stream's grace (begin): it arrived (http2-streams.ts), or the grace is over.
      if (!this.awaitFirstStream(connection, task, now)) this.firstGoaway(connection, task, now);
      return;
    }
    if (task.goawayPhase === 1) {
      // The last open stream closed before the PING ACK was read: soon nothing more will be read.
      if (connection.inFlight === 0 && task.wakeAt > now + LAST_STREAM_SETTLE_MS) task.wakeAt = now + LAST_STREAM_SETTLE_MS;
      if (now >= task.wakeAt) this.finalGoaway(connection, task);
    }
    if (task.goawayPhase === 2) this.closeWhenDone(connection, task, now);
  }

  force(connection: Connection, task: DrainTask): void {
    // Sticky: destroying the session closes its streams, whose close events
    // call back here with inFlight already back at 0.
    task.forced ||= connection.inFlight > 0 || task.goawayPhase < 2;
    connection.session?.destroy();
    connection.socket.destroy();
  }

  /** Phase 2: the final GOAWAY names the last stream processed; the caller goes on to closeWhenDone. */
  private finalGoaway(connection: Connection, task: DrainTask): void {
    task.goawayPhase = 2;
    task.wakeAt = Infinity;
    const session = connection.session;
    if (session && !session.destroyed && !session.closed) {
      try {
        session.goaway(constants.NGHTTP2_NO_ERROR, connection.lastStreamId);
      } catch {
        // Already closing.
      }
    }
  }

  /**
   * With no stream left: `session.close()`. Once nghttp2 has flushed what it
   * had to send, Node ends the socket (`finishSessionClose` in
   * lib/internal/http2/core.js calls `socket.end()`; Node 20.20, 22.23, 24.22,
   * 26.12), never within close() itself (by the next check phase when
   * nothing is left to write, here). The socket's 'finish' says our FIN is
   * out (`writableFinished`: its shutdown request has completed); it brings
   * the task back through `advance`, and lingering-close.ts releases it:
   * nothing can be served on the session after that FIN, so its result is
   * final. The listener goes with the event, or with the socket when it is
   * destroyed first.
   */
  private closeWhenDone(connection: Connection, task: DrainTask, now: number): void {
    if (connection.inFlight > 0) return;
    const session = connection.session;
    if (task.endedAt === 0) {
      task.endedAt = now;
      // close() lets remaining streams end and then ends the socket (no reset).
      if (session && !session.closed) session.close();
      const socket = connection.socket;
      if (!socket.writableFinished && !socket.destroyed) socket.once('finish', this.finSent);
    } else if (now >= task.endedAt + this.host.settings.lingerMs) {
      // Our FIN has not left in all that time (a client that reads nothing): no lingering close without it.
      session?.destroy();
      connection.socket.destroy();
      return;
    }
    task.wakeAt = task.endedAt + this.host.settings.lingerMs;
  }
}
