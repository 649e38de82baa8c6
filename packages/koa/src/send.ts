import type { HttpReply } from '@drainkit/core/adapter';
import type { Context } from 'koa';

export function send(ctx: Context, reply: HttpReply): void {
  ctx.status = reply.status;
  // Headers first: Koa keeps a Content-Type that is already set when the body is a string.
  ctx.set(reply.headers);
  ctx.body = reply.body;
}
