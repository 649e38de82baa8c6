import { channels } from './channels.js';

/**
 * Where a request that reached drainkit went unanswered:
 * - `held`: parsed, held behind a draining connection's last response, never dispatched (pipelined, or raced the FIN);
 * - `after-fin`: read on a socket after drainkit's FIN (the client wrote it before it saw the FIN); discarded unparsed;
 * - `refused-stream`: HTTP/2 stream above the final GOAWAY's last stream id, reset with REFUSED_STREAM.
 * In every case the client got no response: a close or a refused stream, which
 * it may retry (RFC 9112 §9.3.1, RFC 9113 §8.7), or a proxy answered 502.
 */
export type UnansweredWhere = 'held' | 'after-fin' | 'refused-stream';

export interface UnansweredMessage {
  drainerId: string;
  /** The connection's id; for `after-fin`, the connection was already closed (released). */
  connectionId: string;
  where: UnansweredWhere;
  /** Requests (request heads seen, at least 1 when bytes arrived after the FIN). */
  requests: number;
  /** `after-fin`: bytes read and discarded in this chunk. */
  bytes?: number;
}

/** The drainer's running count of unanswered requests, and its diagnostics_channel message. */
export class UnansweredCounter {
  total = 0;
  constructor(private readonly drainerId: string) {}

  count(requests: number, where: UnansweredWhere, connectionId: string, bytes?: number): void {
    if (requests <= 0) return;
    this.total += requests;
    if (channels.requestUnanswered.hasSubscribers) {
      const message: UnansweredMessage = { drainerId: this.drainerId, connectionId, where, requests };
      if (bytes !== undefined) message.bytes = bytes;
      channels.requestUnanswered.publish(message);
    }
  }
}
