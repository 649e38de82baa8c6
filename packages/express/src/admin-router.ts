import { alreadyAnsweredError, handleAdminRequest, matchAdminRoute, resolveAdminOptions } from '@drainkit/core/adapter';
import type { AdminOptions, RequestDrain } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { Request, RequestHandler } from 'express';
import { send } from './send.js';

export type ExpressAdminOptions = AdminOptions<Request>;

/**
 * The admin API, mounted where you like: `app.use('/admin', adminRouter({ authorize }))`
 * (or `adminRouter(drainer, { authorize })`).
 * GET / (HTML page), GET /connections, GET /stats, POST /connections/:id/drain,
 * POST /drain, POST /shutdown. It routes by itself (no express.Router), so it
 * behaves the same on Express 4 and 5; paths it does not know go to next().
 * Every failure (authorize threw, the reply could not be written) goes to
 * next(err), Express's error path: never an unhandled rejection.
 */
export function adminRouter(options: ExpressAdminOptions): RequestHandler;
export function adminRouter(drainer: Drainer, options: Omit<ExpressAdminOptions, 'drainer'>): RequestHandler;
export function adminRouter(options: ExpressAdminOptions | Drainer, more?: Omit<ExpressAdminOptions, 'drainer'>): RequestHandler {
  const resolved = resolveAdminOptions<Request>(options, [], more);
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
      answered: () => res.headersSent,
    })
      .then((reply) => {
        // Something answered while the route ran (a timeout middleware): its response stands.
        if (res.headersSent) throw alreadyAnsweredError();
        send(res, reply);
      })
      // One catch for all: a throw inside send() must reach Express too, not become an unhandled rejection.
      .catch(next);
  };
}
