import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { createRequestDrain, isDrainerLike } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';
import type { RequestHandler } from 'express';

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
  return function drainkitMiddleware(req, _res, next) {
    // attach() may have set it already, before Express saw the request.
    if ((req.drain as RequestDrain | undefined)?.drainer !== drainer) req.drain = createRequestDrain(drainer, req);
    next();
  };
}
