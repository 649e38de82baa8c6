import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';

/**
 * A minimal HTTP/2 client on a raw socket (RFC 9113 framing, HPACK literals
 * from the static table, RFC 7541 Appendix A). Unlike node:http2 it does what
 * the test says: it can open a stream after a GOAWAY, and it answers PING
 * only when told to, which is how the two GOAWAY steps are observed apart.
 */
export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawStream {
  headers: boolean;
  /** :status 200 as the first header, indexed (0x88): how nghttp2 sends it. */
  status200: boolean;
  data: string;
  ended: boolean;
  rstCode: number | undefined;
}

export class RawH2Client {
  readonly socket: net.Socket | tls.TLSSocket;
  readonly frames: Frame[] = [];
  readonly goaways: Array<{ lastStreamId: number; errorCode: number }> = [];
  readonly streams = new Map<number, RawStream>();
  /** When false, PINGs are recorded in `pendingPings` and only acknowledged by ackPings(). */
  autoAckPing = true;
  readonly pendingPings: Buffer[] = [];
  ended = false;
  error: NodeJS.ErrnoException | undefined;
  readonly closed: Promise<void>;
  private buffer = Buffer.alloc(0);
  private nextStreamId = 1;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (error) => (this.error = error));
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.wake();
      resolve();
    }));
  }

  /**
   * `allowHalfOpen`: keep our side open after the server's FIN (a client that ignores it: never ends nor destroys its socket).
   * `tls`: h2 over TLS (ALPN h2, any certificate).
   */
  static async connect(port: number, options: { allowHalfOpen?: boolean; tls?: boolean } = {}): Promise<RawH2Client> {
    const allowHalfOpen = options.allowHalfOpen ?? false;
    // tls.connect() hands allowHalfOpen to its TLSSocket (lib/_tls_wrap.js); @types/node leaves it out.
    const tlsOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = { port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'], allowHalfOpen };
    const socket = options.tls ? tls.connect(tlsOptions) : net.connect({ port, host: '127.0.0.1', allowHalfOpen });
    await once(socket, options.tls ? 'secureConnect' : 'connect');
    const client = new RawH2Client(socket);
    socket.write(PREFACE);
    client.send(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
    return client;
  }

  /** Opens a GET stream; returns its id. */
  request(path: string): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.streams.set(id, { headers: false, status200: false, data: '', ended: false, rstCode: undefined });
    const block = Buffer.concat([
      Buffer.from([0x82, 0x86]), // :method GET, :scheme http (indexed)
      literal(4, path), // :path
      literal(1, 'localhost'), // :authority
    ]);
    this.send(FrameType.HEADERS, END_HEADERS | END_STREAM, id, block);
    return id;
  }

  /** Sends a PING (its ACK is recorded in `frames`). */
  ping(): void {
    this.send(FrameType.PING, 0, 0, Buffer.alloc(8));
  }

  ackPings(): void {
    for (const payload of this.pendingPings.splice(0)) this.send(FrameType.PING, ACK, 0, payload);
  }

  /** Resolves once `predicate` holds; rejects if the socket closes first. */
  async waitFor(predicate: () => boolean, what: string): Promise<void> {
    while (!predicate()) {
      if (this.socket.destroyed) throw new Error(`socket closed while waiting for ${what}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private send(type: number, flags: number, streamId: number, payload: Buffer): void {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(streamId, 5);
    this.socket.write(Buffer.concat([head, payload]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) break;
      const frame: Frame = {
        type: this.buffer[3]!,
        flags: this.buffer[4]!,
        streamId: this.buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffer.subarray(9, 9 + length),
      };
      this.buffer = this.buffer.subarray(9 + length);
      this.frames.push(frame);
      this.handle(frame);
    }
    this.wake();
  }

  private handle(frame: Frame): void {
    const stream = this.streams.get(frame.streamId);
    switch (frame.type) {
      case FrameType.SETTINGS:
        if (!(frame.flags & ACK)) this.send(FrameType.SETTINGS, ACK, 0, Buffer.alloc(0));
        break;
      case FrameType.PING:
        if (frame.flags & ACK) break;
        if (this.autoAckPing) this.send(FrameType.PING, ACK, 0, frame.payload);
        else this.pendingPings.push(frame.payload);
        break;
      case FrameType.GOAWAY:
        this.goaways.push({ lastStreamId: frame.payload.readUInt32BE(0) & 0x7fffffff, errorCode: frame.payload.readUInt32BE(4) });
        break;
      case FrameType.HEADERS:
        if (stream) {
          stream.headers = true;
          stream.status200 = frame.payload[0] === 0x88;
          if (frame.flags & END_STREAM) stream.ended = true;
        }
        break;
      case FrameType.DATA:
        if (stream) {
          stream.data += frame.payload.toString('latin1');
          if (frame.flags & END_STREAM) stream.ended = true;
        }
        break;
      case FrameType.RST_STREAM:
        if (stream) stream.rstCode = frame.payload.readUInt32BE(0);
        break;
    }
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** HPACK "literal header field without indexing" with an indexed name (RFC 7541 §6.2.2), short values only. */
function literal(nameIndex: number, value: string): Buffer {
  if (value.length > 126) throw new Error('value too long for this minimal encoder');
  return Buffer.concat([Buffer.from([nameIndex, value.length]), Buffer.from(value, 'latin1')]);
}
