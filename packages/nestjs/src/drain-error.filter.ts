import { Catch, HttpStatus, Logger } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DrainError, DrainErrorCodes } from '@drainkit/core';
import type { DrainErrorCode } from '@drainkit/core';

/** The JSON body DrainErrorFilter answers with. */
export interface DrainErrorBody {
  statusCode: number;
  code: DrainErrorCode;
  message: string;
}

/**
 * The HTTP status a DrainError stands for when it escapes a route handler:
 * the caller named a connection that is not there (404), passed a bad value
 * (400), or reached the application while it cannot drain (503: not attached
 * yet, disposed, or the request was cut short because the server is going away).
 * Anything else is a server fault (500).
 */
export function drainErrorStatus(code: DrainErrorCode): number {
  switch (code) {
    case DrainErrorCodes.UNKNOWN_CONNECTION:
      return HttpStatus.NOT_FOUND;
    case DrainErrorCodes.INVALID_OPTION:
    case DrainErrorCodes.INVALID_ARGUMENT:
      return HttpStatus.BAD_REQUEST;
    case DrainErrorCodes.NOT_ATTACHED:
    case DrainErrorCodes.DISPOSED:
    case DrainErrorCodes.SHUTTING_DOWN:
    case DrainErrorCodes.CONNECTION_DRAINING:
      return HttpStatus.SERVICE_UNAVAILABLE;
    default:
      return HttpStatus.INTERNAL_SERVER_ERROR;
  }
}

/**
 * Answers a DrainError thrown by a route handler with its HTTP status and
 * `{ statusCode, code, message }`, instead of Nest's generic 500. It writes
 * through the HttpAdapter, so it works on Express and Fastify alike. Bind it
 * with `DrainModule.forRoot({ errorFilter: true })`, an `APP_FILTER` provider,
 * `@UseFilters(DrainErrorFilter)`, or
 * `app.useGlobalFilters(new DrainErrorFilter(app.get(HttpAdapterHost)))`.
 */
@Catch(DrainError)
export class DrainErrorFilter implements ExceptionFilter<DrainError> {
  private readonly logger = new Logger('DrainErrorFilter');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: DrainError, host: ArgumentsHost): void {
    // RPC and WebSocket contexts have their own error shapes: leave the error to them.
    if (host.getType() !== 'http') throw error;
    const adapter = this.adapterHost.httpAdapter;
    const response: unknown = host.switchToHttp().getResponse();
    const statusCode = drainErrorStatus(error.code);
    // As Nest's own filter does: a 500 is logged, and its message (a server detail) is not sent.
    if (statusCode === HttpStatus.INTERNAL_SERVER_ERROR) this.logger.error(error.message, error.stack);
    const message = statusCode === HttpStatus.INTERNAL_SERVER_ERROR ? 'Internal server error' : error.message;
    if (adapter.isHeadersSent(response)) {
      // A streaming response already started: all that is left is to end it.
      adapter.end(response);
      return;
    }
    const body: DrainErrorBody = { statusCode, code: error.code, message };
    adapter.reply(response, body, statusCode);
  }
}
