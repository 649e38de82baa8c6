import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';

/** Starts listening on 127.0.0.1 at a random port; returns the port. */
export async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Closes a server, tearing down whatever connections a failed test left behind. */
export async function closeServer(server: net.Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  (server as http.Server).closeAllConnections?.();
  await closed;
}

/**
 * A raw client socket that records everything: the bytes it received, whether
 * the server closed cleanly (FIN) or reset, and when.
 */
export class RawClient {
  readonly socket: net.Socket;
  data = '';
  ended = false;
  endedAt = 0;
  error: NodeJS.ErrnoException | undefined;
  closed: Promise<void>;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.data += chunk;
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.endedAt = Date.now();
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('error', (error) => {
      this.error = error;
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** `allowHalfOpen` (plain TCP only): keep our side open after the server's FIN, as a client that never closes does. */
  static async connect(port: number, options: { tls?: boolean; allowHalfOpen?: boolean } = {}): Promise<RawClient> {
    const allowHalfOpen = options.allowHalfOpen ?? false;
    const socket = options.tls
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : net.connect({ port, host: '127.0.0.1', allowHalfOpen });
    await once(socket, options.tls ? 'secureConnect' : 'connect');
    return new RawClient(socket);
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Resolves once `predicate` holds for the received data (or the socket ended). */
  async waitFor(predicate: (data: string) => boolean, what = 'data'): Promise<void> {
    while (!predicate(this.data)) {
      if (this.ended || this.socket.destroyed) throw new Error(`socket closed while waiting for ${what}; got ${JSON.stringify(this.data)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async waitForEnd(): Promise<void> {
    while (!this.ended && !this.socket.destroyed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** How many complete HTTP responses (status lines) arrived. */
  get responseCount(): number {
    return (this.data.match(/HTTP\/1\.1 \d{3}/g) ?? []).length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  socketReused: boolean;
}

/** A request through an http.Agent (keep-alive pooled clients are the realistic case). */
export function request(agent: http.Agent, port: number, path: string, options: http.RequestOptions = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socketReused: (req as { reusedSocket?: boolean }).reusedSocket ?? false }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A promise with its resolve function, for handlers a test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits until `check` is true, polling on the event loop's timers. For state that has no event. */
export async function until(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
