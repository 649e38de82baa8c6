import { DrainError, DrainErrorCodes } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { adminRoutes, handleAdminRequest, resolveAdminOptions } from '@drainkit/core/adapter';
import type { AdminMatch, AdminOptions, AdminRoute, RequestDrain } from '@drainkit/core/adapter';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { sendReply } from './send.js';

export type FastifyAdminOptions = AdminOptions<FastifyRequest>;

// Every method is routed, so a known path with the wrong method answers 405 + Allow as in Express and Koa (not Fastify's 404).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * The admin API as an encapsulated Fastify plugin, under the prefix you give:
 *
 *     await app.register(drainkitAdmin, { prefix: '/admin', authorize: (request) => ... });
 *
 * GET / (HTML page), GET /connections, GET /stats, POST /connections/:id/drain,
 * POST /drain, POST /shutdown. Refuses to register without `authorize`.
 */
export const drainkitAdmin: FastifyPluginAsync<FastifyAdminOptions> = async function drainkitAdmin(app: FastifyInstance, options: FastifyAdminOptions) {
  // prefix, logLevel and logSerializers are Fastify's own register() options.
  const resolved = resolveAdminOptions<FastifyRequest>(options, ['prefix', 'logLevel', 'logSerializers']);
  const fallback = resolved.drainer ?? (app.hasDecorator('drainer') ? (app.drainer as Drainer | undefined) : undefined);
  if (!fallback) {
    throw new DrainError(DrainErrorCodes.NOT_ATTACHED, 'drainkitAdmin: no drainer; register the drainkit plugin before drainkitAdmin, or pass { drainer }');
  }
  // Bodies are left unread here: core reads them with its own limit and
  // content-type rules (415 for non-JSON, "{}" for an empty JSON body), as on Express and Koa.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  for (const route of adminRoutes) {
    app.route({
      method: [...METHODS],
      url: route.path,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const httpReply = await handleAdminRequest(resolved, {
          match: matchFor(route, request.method, request.params as Record<string, string>),
          target: request,
          headers: request.headers,
          drainer: (request as { drain?: RequestDrain }).drain?.drainer ?? fallback,
          parsedBody: undefined,
          stream: request.raw,
        });
        return sendReply(reply, httpReply);
      },
    });
  }
};

function matchFor(route: AdminRoute, method: string, params: Record<string, string>): AdminMatch {
  // HEAD is GET without a body (RFC 9110 §9.3.2).
  if (method === route.method || (method === 'HEAD' && route.method === 'GET')) return { route: route.name, params: { ...params } };
  return { allow: [route.method === 'GET' ? 'GET, HEAD' : route.method] };
}
