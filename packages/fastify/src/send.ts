import type { HttpReply } from '@drainkit/core/adapter';
import type { FastifyReply } from 'fastify';

/** Sends a core reply as is: the body is already serialized, so Fastify's serializer stays out of it. */
export function sendReply(reply: FastifyReply, httpReply: HttpReply): FastifyReply {
  reply.code(httpReply.status);
  for (const [name, value] of Object.entries(httpReply.headers)) reply.header(name, value);
  return reply.send(httpReply.body);
}
