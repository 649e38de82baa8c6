import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { adminRoutes, handleAdminRequest, resolveAdminOptions } from '@drainkit/core/adapter';
import type { AdminOptions, RequestDrain } from '@drainkit/core/adapter';
import Router from '@koa/router';
import type { Context } from 'koa';
import { send } from './send.js';

export interface KoaAdminOptions extends AdminOptions<Context> {
  /** Router prefix, e.g. '/admin'. */
  prefix?: string;
}

/**
 * The admin API as a @koa/router Router: GET / (HTML page), GET /connections,
 * GET /stats, POST /connections/:id/drain, POST /drain, POST /shutdown.
 *
 *     const admin = adminRouter({ authorize, prefix: '/admin' });
 *     app.use(admin.routes()).use(admin.allowedMethods());
 */
export function adminRouter(options: KoaAdminOptions): Router {
  const resolved = resolveAdminOptions<Context>(options, ['prefix']);
  const prefix = options.prefix;
  if (prefix !== undefined && (typeof prefix !== 'string' || !prefix.startsWith('/'))) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "prefix": expected a path starting with "/", got ${JSON.stringify(prefix)}`);
  }
  const router = prefix === undefined ? new Router() : new Router({ prefix });
  for (const route of adminRoutes) {
    const register = route.method === 'GET' ? router.get.bind(router) : router.post.bind(router);
    register(route.path, async (ctx) => {
      const reply = await handleAdminRequest(resolved, {
        match: { route: route.name, params: { ...ctx.params } },
        target: ctx,
        headers: ctx.headers,
        drainer: (ctx.state.drain as RequestDrain | undefined)?.drainer,
        parsedBody: (ctx.request as { body?: unknown }).body,
        stream: ctx.req,
      });
      send(ctx, reply);
    });
  }
  return router;
}
