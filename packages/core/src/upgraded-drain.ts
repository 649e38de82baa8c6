import type { Connection, DrainTask } from './connection.js';
import type { ProtocolStrategy, StrategyHost } from './strategy.js';

/**
 * Upgraded sockets (WebSocket and any other `upgrade`): HTTP no longer knows
 * what runs on them, so the user's hook winds them down (a WebSocket close
 * 1001 "going away", RFC 6455 §7.4.1); without a hook the socket is ended.
 * The connection counts as drained when the socket closes.
 */
export class UpgradedStrategy implements ProtocolStrategy {
  constructor(private readonly host: StrategyHost) {}

  begin(connection: Connection, task: DrainTask, now: number): void {
    const socket = connection.upgradedSocket ?? connection.socket;
    const hook = this.host.upgradedHook();
    if (hook) {
      try {
        hook(socket, connection);
        return;
      } catch (error) {
        this.host.warn({ connectionId: connection.id, err: error }, 'drainkit: onUpgradedDrain hook threw; ending the socket');
      }
    }
    task.endedAt = now;
    task.wakeAt = now + this.host.settings.lingerMs;
    socket.end();
  }

  advance(connection: Connection, task: DrainTask, now: number): void {
    if (task.endedAt !== 0 && now >= task.endedAt + this.host.settings.lingerMs) {
      (connection.upgradedSocket ?? connection.socket).destroy();
    }
  }

  force(connection: Connection, task: DrainTask): void {
    task.forced = task.endedAt === 0;
    (connection.upgradedSocket ?? connection.socket).destroy();
  }
}
