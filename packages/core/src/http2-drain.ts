import { constants } from 'node:http2';
import type { Connection, DrainTask } from './connection.js';
import type { ProtocolStrategy, StrategyHost } from './strategy.js';

/** Largest stream id (RFC 9113 §5.1.1): "no stream is refused yet" in the first GOAWAY. */
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * HTTP/2: the graceful two-step GOAWAY of RFC 9113 §6.8, as Cowboy, Envoy and
 * grpc-go do it. GOAWAY(2^31-1, NO_ERROR) first, so the client stops opening
 * streams; after a PING round trip (every stream it opened before seeing the
 * GOAWAY has then reached us) the final GOAWAY names the last stream we
 * processed. Streams above it are refused (REFUSED_STREAM: safe to retry) by
 * http2-streams.ts; the rest finish; then the session closes.
 */
export class Http2Strategy implements ProtocolStrategy {
  constructor(private readonly host: StrategyHost) {}

  begin(connection: Connection, task: DrainTask, now: number): void {
    const session = connection.session;
    if (!session || session.destroyed) {
      connection.socket.end();
      return;
    }
    task.goawayPhase = 1;
    task.wakeAt = now + this.host.settings.goawayPingTimeoutMs;
    try {
      session.goaway(constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      session.ping((error) => {
        if (!error) this.finalGoaway(connection, task);
      });
    } catch {
      // The session is closing on its own; the timer moves it on.
    }
  }

  advance(connection: Connection, task: DrainTask, now: number): void {
    if (task.goawayPhase === 1 && now >= task.wakeAt) this.finalGoaway(connection, task);
    if (task.goawayPhase === 2) this.closeWhenDone(connection, task, now);
  }

  force(connection: Connection, task: DrainTask): void {
    // Sticky: destroying the session closes its streams, whose close events
    // call back here with inFlight already back at 0.
    task.forced ||= connection.inFlight > 0 || task.goawayPhase < 2;
    connection.session?.destroy();
    connection.socket.destroy();
  }

  private finalGoaway(connection: Connection, task: DrainTask): void {
    if (task.goawayPhase !== 1 || connection.state === 'closed') return;
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
    this.closeWhenDone(connection, task, Date.now());
    this.host.reschedule(task);
  }

  private closeWhenDone(connection: Connection, task: DrainTask, now: number): void {
    if (connection.inFlight > 0) return;
    const session = connection.session;
    if (task.endedAt === 0) {
      task.endedAt = now;
      // close() lets remaining streams end and then ends the socket (no reset).
      if (session && !session.closed) session.close();
    } else if (now >= task.endedAt + this.host.settings.lingerMs) {
      session?.destroy();
      connection.socket.destroy();
      return;
    }
    task.wakeAt = task.endedAt + this.host.settings.lingerMs;
  }
}
