import { handleAdminRequest, matchAdminRoute, resolveAdminOptions } from '@drainkit/core/adapter';
import type { AdminOptions, RequestDrain } from '@drainkit/core/adapter';
import type { Request, RequestHandler } from 'express';
import { send } from './send.js';

export type ExpressAdminOptions = AdminOptions<Request>;

/**
 * The admin API, mounted where you like: `app.use('/admin', adminRouter({ authorize }))`.
 * GET / (HTML page), GET /connections, GET /stats, POST /connections/:id/drain,
 * POST /drain, POST /shutdown. It routes by itself (no express.Router), so it
 * behaves the same on Express 4 and 5; paths it does not know go to next().
 */
export function adminRouter(options: ExpressAdminOptions): RequestHandler {
  const resolved = resolveAdminOptions<Request>(options);
  return function drainkitAdmin(req, res, next) {
    const match = matchAdminRoute(req.method, req.path);
    if (!match) {
      next();
      return;
    }
    handleAdminRequest(resolved, {
      match,
      target: req,
      headers: req.headers,
      drainer: (req.drain as RequestDrain | undefined)?.drainer,
      parsedBody: req.body as unknown,
      stream: req,
    }).then((reply) => send(res, reply), next);
  };
}
