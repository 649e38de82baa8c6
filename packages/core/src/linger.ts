import type { Duplex } from 'node:stream';

/** A request line ends with " HTTP/1.0" or " HTTP/1.1" and CRLF: one per request head. */
const REQUEST_LINE_END = ' HTTP/1.';

/**
 * Counts request heads by their request line across the chunks of one socket:
 * a line split between two chunks is found in the seam. The first chunk also
 * settles the request the parser was in the middle of, if any: when a line
 * break comes before any request line, the parser had read that head's
 * request line and the rest of the head is here (one more request); when no
 * request line or line break comes at all, the bytes count as one request
 * (something the client meant to send). Not so when the parser was in the
 * middle of a body: that request was counted when its head was parsed.
 */
export class RequestLineCounter {
  /** The last bytes seen (latin1), fewer than the pattern: a copy, so that no chunk outlives its 'data' event. */
  private tail = '';
  private first = true;

  constructor(private readonly inBody = false) {}

  count(chunk: Buffer): number {
    let count = 0;
    const k = REQUEST_LINE_END.length;
    if (this.tail !== '') {
      // Only matches that straddle the seam: they start in the tail.
      const at = (this.tail + chunk.toString('latin1', 0, k - 1)).indexOf(REQUEST_LINE_END);
      if (at !== -1 && at < this.tail.length) count++;
    }
    // Searched in a latin1 copy: V8's string search costs ~1/3 of Buffer#indexOf's
    // native call per match when a flood packs ~2,000 request lines in 64 KiB
    // (~80 µs instead of ~235 µs a read, Node 20.20; ~50 / ~150 µs on 22.23 and 24.22).
    const text = chunk.toString('latin1');
    const firstLine = text.indexOf(REQUEST_LINE_END);
    for (let at = firstLine; at !== -1; at = text.indexOf(REQUEST_LINE_END, at + k)) count++;
    this.tail = (this.tail + text.slice(Math.max(0, text.length - (k - 1)))).slice(-(k - 1));
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (!this.inBody) {
        const firstBreak = text.indexOf('\n');
        if (firstBreak !== -1 && (firstLine === -1 || firstBreak < firstLine)) count++;
        else if (count === 0) count = 1;
      }
    }
    return count;
  }
}

/**
 * Bytes a lingering socket reads and discards before it is reset. A client
 * still writing this much after our FIN is not about to close (requests racing
 * the FIN are a few KiB); reading on would cost a scan of every byte until
 * `lingerMs` for nothing (a flood of 4 clients: ~0.5 s of CPU a second),
 * where bare Node, with no lingering close, resets at once. nginx's
 * lingering_close has a time limit only, but discards without looking at the bytes.
 */
const LINGER_MAX_BYTES = 1024 * 1024;

type NodeParser = { _consumed?: boolean; unconsume?: () => void; incoming?: { complete?: boolean } | null };
type StreamHandle = { reading?: boolean; readStart?: () => number };
type ParserSocket = Duplex & { parser?: NodeParser | null; _paused?: boolean; _handle?: StreamHandle | null };

/**
 * After drainkit's FIN a lingering HTTP/1.1 socket still reads (so the close is
 * not a reset, RFC 9112 §9.6), but Node's HTTP parser would go on parsing every
 * request the client writes into IncomingMessages nobody will answer (issue 12
 * item 2: +126–227 MB for one client writing until `lingerMs`). Here the parser
 * stops being fed: it is unconsumed from the socket's handle, as Node's own
 * `unconsume()` in lib/_http_server.js does for an upgrade (Node's `socket.on`
 * wrapper would also do it when the 'data' listener is added; done here
 * explicitly so as not to depend on that), Node's 'data' listener
 * (`socketOnData`) is removed, and reading restarts if a pause had stopped the
 * handle, so the bytes are counted and dropped and the client's FIN is seen.
 * The same code paths on Node 20.20, 22.23, 24.22 and 26.12 (their
 * lib/_http_server.js read side by side, and run): 4 and 8 clients writing
 * requests as fast as they can after the FIN start no handler and grow the heap
 * by 0.3 MB, no block over 66 ms (soak/hostile.mjs case 2,
 * bench/results/hostile-2026-12-01T20-16-12-897Z.md; before: +24 and +48 MB).
 * `onRequests` gets the request heads seen (see RequestLineCounter).
 */
export function discardAfterFin(socket: Duplex, onRequests: (requests: number, bytes: number) => void): void {
  const s = socket as ParserSocket;
  if (s.destroyed) return;
  const parser = s.parser;
  // A request whose body is still arriving was counted with its head: its last bytes are not another request.
  const counter = new RequestLineCounter(parser?.incoming?.complete === false);
  if (parser?._consumed && typeof parser.unconsume === 'function') {
    parser.unconsume();
    parser._consumed = false;
  }
  for (const event of ['pause', 'resume'] as const) {
    for (const listener of s.listeners(event)) {
      // Node's parser pause/resume hooks (onSocketPause, onSocketResume): no parser to pause any more.
      if (typeof listener === 'function' && (listener.name === 'onSocketPause' || listener.name === 'onSocketResume'))
        s.removeListener(event, listener as () => void);
    }
  }
  let discarded = 0;
  const discard = (chunk: Buffer | string) => {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    onRequests(counter.count(buffer), buffer.length);
    discarded += buffer.length;
    if (discarded > LINGER_MAX_BYTES) s.destroy();
  };
  for (const listener of s.listeners('data')) {
    // Node's own parser feed, bound per socket: "bound socketOnData".
    if (typeof listener === 'function' && listener.name.includes('socketOnData')) s.removeListener('data', listener as (...args: unknown[]) => void);
  }
  s.on('data', discard);
  // Node may have paused the socket for backpressure (socket._paused): read on, or the client's FIN is never seen.
  s._paused = false;
  s.resume();
  // A pause while the parser consumed the handle stopped the handle itself
  // (Node's onSocketPause: readStop), and resume() cannot restart it: the
  // stream's read() never returned, so it calls no _read(). Restart it as
  // Node's onSocketResume would have (lib/_http_server.js, Node 20.20, 22.23, 24.22).
  const handle = s._handle;
  if (handle && handle.reading === false && typeof handle.readStart === 'function') {
    handle.reading = true;
    handle.readStart();
  }
}
