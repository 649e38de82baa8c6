import http2 from 'node:http2';
import { RawClient, get } from './net.js';
import type { ServerKind } from './server-kinds.js';

export interface KindResponse {
  status: number;
  body: string;
  /** HTTP/1.1: whether the response said `Connection: close`. */
  connectionClose: boolean;
}

/** One client connection to a kind's server, speaking the kind's protocol. */
export interface KindClient {
  /** Sends a request; resolves with its response. */
  request(path: string): Promise<KindResponse>;
  /** HTTP/1.1 only: writes several requests in one packet. */
  pipeline?(paths: string[]): void;
  /** Responses received so far (HTTP/1.1: parsed from the raw bytes). */
  responses(): number;
  /** Resolves when the server closed the connection; rejects on a reset. */
  closed(): Promise<{ clean: boolean }>;
  /** The local port, to find this connection in drainer.connections(). */
  localPort: number;
  destroy(): void;
}

export async function connectClient(kind: ServerKind, port: number): Promise<KindClient> {
  return kind.protocol === 'h2' ? h2Client(kind, port) : h1Client(kind, port);
}

async function h1Client(kind: ServerKind, port: number): Promise<KindClient> {
  const raw = await RawClient.connect(port, { tls: kind.secure });
  let consumed = 0;
  return {
    localPort: raw.socket.localPort!,
    async request(path) {
      const before = raw.responseCount;
      raw.write(get(path));
      await raw.waitFor(() => raw.responseCount > before && completeResponses(raw.data) > before, `response to ${path}`);
      const text = raw.data.slice(consumed);
      consumed = raw.data.length;
      return parse(text);
    },
    pipeline(paths) {
      raw.write(paths.map((p) => get(p)).join(''));
    },
    responses: () => completeResponses(raw.data),
    async closed() {
      await raw.closed;
      return { clean: raw.ended && raw.error === undefined };
    },
    destroy: () => raw.destroy(),
  };
}

/** Counts complete responses (all of them use Content-Length or chunked bodies). */
function completeResponses(data: string): number {
  let count = 0;
  let rest = data;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return count;
    const head = rest.slice(0, headEnd).toLowerCase();
    let body = rest.slice(headEnd + 4);
    const length = /content-length: *(\d+)/.exec(head);
    if (length) {
      const n = Number(length[1]);
      if (body.length < n) return count;
      rest = body.slice(n);
    } else if (head.includes('transfer-encoding: chunked')) {
      const end = body.indexOf('0\r\n\r\n');
      if (end < 0) return count;
      rest = body.slice(end + 5);
    } else {
      return count + 1;
    }
    count++;
    body = rest;
  }
}

function parse(text: string): KindResponse {
  const headEnd = text.indexOf('\r\n\r\n');
  const head = text.slice(0, headEnd);
  let body = text.slice(headEnd + 4);
  if (/transfer-encoding: *chunked/i.test(head)) {
    let out = '';
    while (body.length > 0) {
      const lineEnd = body.indexOf('\r\n');
      const size = parseInt(body.slice(0, lineEnd), 16);
      if (!size) break;
      out += body.slice(lineEnd + 2, lineEnd + 2 + size);
      body = body.slice(lineEnd + 2 + size + 2);
    }
    body = out;
  }
  return { status: Number(head.split(' ')[1]), body, connectionClose: /\r\nconnection: *close/i.test(head) };
}

async function h2Client(kind: ServerKind, port: number): Promise<KindClient> {
  const session = http2.connect(`${kind.secure ? 'https' : 'http'}://127.0.0.1:${port}`, { rejectUnauthorized: false });
  let errored = false;
  session.on('error', () => (errored = true));
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  let done = 0;
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  return {
    localPort: session.socket.localPort!,
    request(path) {
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':path': path });
        let body = '';
        let status = 0;
        stream.setEncoding('utf8');
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (chunk: string) => (body += chunk));
        stream.on('end', () => {
          done++;
          resolve({ status, body, connectionClose: false });
        });
        stream.on('error', reject);
        stream.end();
      });
    },
    responses: () => done,
    async closed() {
      await closed;
      return { clean: !errored };
    },
    destroy: () => session.destroy(),
  };
}
