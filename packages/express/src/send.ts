import type { HttpReply } from '@drainkit/core/adapter';
import type { ServerResponse } from 'node:http';

/** Writes a reply with Node's own API, which Express 4 and 5 share. */
export function send(res: ServerResponse, reply: HttpReply): void {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(reply.body));
  res.end(reply.body);
}
