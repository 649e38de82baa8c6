import type { Socket } from 'node:net';

/**
 * Pipelined HTTP/1.1 requests drainkit holds back (it dispatches one at a
 * time per connection) produce no output, so Node's own backpressure, which
 * pauses a socket once the responses queued on it pass the high-water mark,
 * never triggers. This bounds the held queue the way Node bounds its queued
 * output: past the bound the socket stops reading, and reads again as the
 * queue empties.
 *
 * Node's mechanism (lib/_http_server.js, checked on Node 20.20 and 24.x):
 * `parserOnIncoming` sets `socket._paused = true` and calls `socket.pause()`;
 * after the parser's execute() returns, `onParserExecuteCommon` sees
 * `socket._paused` and pauses the parser too (llhttp must not be paused from
 * inside its own callbacks, which is where a 'request' handler runs);
 * `socketOnDrain` undoes both. `IncomingMessage._read` resumes the socket
 * unless `socket._paused` is set, which is why a bare `socket.pause()` is not enough.
 */

/** Held requests at which the socket stops reading (Node pauses at 16 KiB of queued output; a held request is a few hundred bytes of state). */
export const MAX_HELD_REQUESTS = 32;
/** Held requests at or below which a socket we paused reads again. */
export const RESUME_HELD_REQUESTS = MAX_HELD_REQUESTS / 2;

type NodeHttpSocket = Socket & {
  _paused?: boolean;
  parser?: { pause?: () => void; resume?: () => void } | null;
};

/**
 * Stops reading, as Node's `parserOnIncoming` does. Safe inside a 'request'
 * handler: the parser itself is paused by Node once its execute() returns.
 * Returns false when the socket was already paused (by Node or by us).
 */
export function pauseReading(socket: Socket): boolean {
  const s = socket as NodeHttpSocket;
  if (s._paused === true || s.destroyed) return false;
  s._paused = true;
  s.pause();
  return true;
}

/**
 * Reads again, as Node's `socketOnDrain` does, unless Node itself wants the
 * socket paused for its output (the response in flight has filled the write
 * buffer: its own 'drain' resumes it then), or `evenIfOutputPending` (the
 * lingering close, which must read to see the client's FIN). Called outside
 * the parser's execute().
 */
export function resumeReading(socket: Socket, evenIfOutputPending = false): void {
  const s = socket as NodeHttpSocket;
  if (s._paused !== true || s.destroyed || (s.writableNeedDrain && !evenIfOutputPending)) return;
  s._paused = false;
  s.parser?.resume?.();
  s.resume();
}
