import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { adminRoutes, handleAdminRequest, resolveAdminOptions } from '@drainkit/core/adapter';
import type { AdminOptions, RequestDrain } from '@drainkit/core/adapter';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { peerRequire } from './peer-require.cjs';
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
  const RouterClass = loadRouter();
  const router = prefix === undefined ? new RouterClass() : new RouterClass({ prefix });
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

/**
 * @koa/router is an optional peer: loaded on the first adminRouter() call, not when
 * @drainkit/koa is imported, so apps without the admin API need not install it.
 */
function loadRouter(): typeof Router {
  let loaded: unknown;
  try {
    loaded = peerRequire('@koa/router');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new DrainError(DrainErrorCodes.MISSING_PEER, 'adminRouter() needs @koa/router (13, 14 or 15): npm install @koa/router', { cause: error });
  }
  // 13 and 14 export the class itself; 15 also as `Router` and `default`.
  const mod = loaded as { Router?: typeof Router; default?: typeof Router };
  return mod.Router ?? mod.default ?? (loaded as typeof Router);
}
