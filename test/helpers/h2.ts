import http2 from 'node:http2';
import type net from 'node:net';

/**
 * HTTP/2 servers have no closeAllConnections(): server.close() waits for every
 * session. Tests record the sessions so their cleanup can tear them down.
 */
export function closeHttp2Sessions(server: net.Server): { destroyAll(): void } {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // HTTP/1.1 connections of an allowHTTP1 server are plain sockets.
  const sockets = new Set<net.Socket>();
  server.on('secureConnection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    destroyAll() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

export interface H2Client {
  session: http2.ClientHttp2Session;
  /** Every GOAWAY frame received: [errorCode, lastStreamID]. */
  goaways: Array<[number, number]>;
  /** Errors the session emitted (a reset of the TCP connection shows up here). */
  errors: Error[];
  closed: Promise<void>;
}

/** An http2.connect client that records GOAWAY frames and errors. */
export async function connectH2(port: number, secure: boolean): Promise<H2Client> {
  const session = http2.connect(`${secure ? 'https' : 'http'}://127.0.0.1:${port}`, { rejectUnauthorized: false });
  const client: H2Client = {
    session,
    goaways: [],
    errors: [],
    closed: new Promise((resolve) => session.once('close', () => resolve())),
  };
  session.on('goaway', (errorCode: number, lastStreamID: number) => client.goaways.push([errorCode, lastStreamID]));
  session.on('error', (error: Error) => client.errors.push(error));
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return client;
}

export interface StreamOutcome {
  path: string;
  status: number;
  body: string;
  /** The stream ended normally (all of the body arrived). */
  ended: boolean;
  /** RST_STREAM code when the stream was reset (e.g. REFUSED_STREAM = 7). */
  rstCode: number | undefined;
  /** The error code of session.request() throwing or the stream erroring. */
  errorCode: string | undefined;
  /** Response bytes received before the stream closed. */
  bytes: number;
  /** The stream id the client gave it (undefined if it never got one). */
  id: number | undefined;
}

/** Opens one stream and reports how it ended; never rejects. */
export function h2Request(session: http2.ClientHttp2Session, path: string): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const outcome: StreamOutcome = { path, status: 0, body: '', ended: false, rstCode: undefined, errorCode: undefined, bytes: 0, id: undefined };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':path': path });
    } catch (error) {
      outcome.errorCode = (error as NodeJS.ErrnoException).code;
      resolve(outcome);
      return;
    }
    stream.setEncoding('utf8');
    stream.on('ready', () => (outcome.id = stream.id));
    stream.on('response', (headers) => (outcome.status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => {
      outcome.body += chunk;
      outcome.bytes += chunk.length;
    });
    stream.on('end', () => (outcome.ended = true));
    stream.on('error', (error: NodeJS.ErrnoException) => (outcome.errorCode ??= error.code));
    stream.on('close', () => {
      outcome.id ??= stream.id;
      if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) outcome.rstCode = stream.rstCode;
      resolve(outcome);
    });
    stream.end();
  });
}
