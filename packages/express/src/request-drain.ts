import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { createRequestDrain, isDrainerLike } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';
import type { RequestHandler } from 'express';
import { defineLazyDrain, lazyDrainerOf } from './lazy-drain.js';

declare global {
  // Express 4 and 5 both type their Request through this global namespace.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by drainMiddleware() or attach(): the request's connection, drain signal and drainAfterResponse(). */
      drain: RequestDrain;
    }
  }
}

/** Gives every request `req.drain`: its connection, its drain `signal` and `drainAfterResponse()`. */
export function drainMiddleware(drainer: Drainer): RequestHandler {
  if (!isDrainerLike(drainer)) {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, 'drainMiddleware(drainer): drainer must come from createDrainer()');
  }
  // The request prototype of a top-level Express app whose `req.drain` is this drainer's lazy
  // accessor (lazy-drain.ts): its requests pass straight on. Mounted sub-apps' request
  // prototypes inherit from it, so the accessor reaches their handlers too.
  let lazyProto: object | undefined;
  return function drainkitMiddleware(req, _res, next) {
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto !== null && proto === lazyProto) return next();
    if (proto !== null && !Object.hasOwn(req, 'drain')) {
      const owner = lazyDrainerOf(proto);
      if (owner === drainer) {
        // attach(app) with this drainer defined it already.
        lazyProto = proto;
        return next();
      }
      // An Express app's own request prototype, of an app not mounted in another (a mounted
      // app's prototype is set back to its parent's once the request leaves it, and its
      // `req.drain` must stay): defined once, as attach() does.
      const app = (req as { app?: { request?: unknown; parent?: unknown } }).app;
      if (owner === undefined && lazyProto === undefined && app?.request === proto && app.parent === undefined && !Object.hasOwn(proto, 'drain')) {
        defineLazyDrain(proto, drainer);
        lazyProto = proto;
        return next();
      }
    }
    // attach() may have set it already, before Express saw the request.
    if ((req.drain as RequestDrain | undefined)?.drainer !== drainer) req.drain = createRequestDrain(drainer, req);
    next();
  };
}
