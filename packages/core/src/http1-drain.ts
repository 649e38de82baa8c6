import type { Connection, DrainTask } from './connection.js';
import type { ProtocolStrategy, StrategyHost } from './strategy.js';

/**
 * HTTP/1.1 (plain or TLS). Requests are dispatched one at a time per
 * connection (see http1-dispatch.ts), so at drain time there is at
 * most one request in flight and everything behind it is known not to have
 * started.
 */
export class Http1Strategy implements ProtocolStrategy {
  constructor(private readonly host: StrategyHost) {}

  begin(connection: Connection, task: DrainTask, now: number): void {
    if (connection.inFlight > 0) {
      this.endAfterResponse(connection, task);
      const response = connection.currentResponse;
      if (response && !response.headersSent) response.shouldKeepAlive = false;
      return;
    }
    // As Go's Server.Shutdown does, a request whose head is already arriving is
    // served (with `Connection: close`) if it completes before the deadline.
    task.servePartialHead = connection.headArriving;
    this.advance(connection, task, now);
    // Not closed at once (a head arriving, or idle grace): a request may still be served.
    if (task.endedAt === 0) this.endAfterResponse(connection, task);
  }

  /**
   * Node ends a `Connection: close` response with socket.destroySoon(), which
   * destroys the socket once our FIN is written: a TCP reset if the client's
   * next bytes are still unread, which can wipe out the response it has not
   * read yet (RFC 9112 §9.6). Route it through the lingering close instead.
   */
  private endAfterResponse(connection: Connection, task: DrainTask): void {
    connection.socket.destroySoon = () => this.endGracefully(connection, task, Date.now());
  }

  advance(connection: Connection, task: DrainTask, now: number): void {
    if (task.endedAt !== 0) {
      const lingerUntil = task.endedAt + this.host.settings.lingerMs;
      if (now >= lingerUntil) connection.socket.destroy();
      else task.wakeAt = lingerUntil;
      return;
    }
    if (connection.inFlight > 0 || task.servePartialHead) return;
    const graceUntil = connection.lastActiveAt + this.host.settings.idleGraceMs;
    if (now < graceUntil) {
      task.wakeAt = graceUntil;
      return;
    }
    this.endGracefully(connection, task, now);
  }

  force(connection: Connection, task: DrainTask): void {
    // Forced means something was cut short: a request in flight, or a head
    // being received. An idle connection (in its grace period, or waiting for
    // the client's FIN) loses nothing when it is closed now.
    task.forced = connection.inFlight > 0 || task.servePartialHead || (task.endedAt === 0 && connection.headArriving);
    connection.socket.destroy();
  }

  /** Half-close and keep reading until the client closes too (or the linger ends). */
  private endGracefully(connection: Connection, task: DrainTask, now: number): void {
    if (task.endedAt !== 0 || connection.state === 'closed') return;
    task.endedAt = now;
    task.wakeAt = now + this.host.settings.lingerMs;
    connection.socket.end();
    this.host.reschedule(task);
  }
}
