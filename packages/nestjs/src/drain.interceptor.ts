import { Injectable, Logger } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { catchError, throwError } from 'rxjs';
import type { Observable } from 'rxjs';
import { DRAIN_AFTER_RESPONSE } from './decorators.js';
import { DrainNotReadyException } from './drain-not-ready.exception.js';
import { DrainService } from './drain.service.js';
import { bindRequest } from './request-binding.js';

/**
 * Registered by DrainModule as an APP_INTERCEPTOR. For every HTTP request it
 * makes the DrainService reachable from `@Conn()` / `@DrainSignal()`, and for
 * routes marked `@DrainAfterResponse()` it starts the connection's drain, which
 * core turns into "close after the response in flight". When the readiness
 * route answers 503, it puts the exception's `Retry-After` on the response, so
 * any exception filter that writes the reply sends it.
 */
@Injectable()
export class DrainInterceptor implements NestInterceptor {
  private readonly logger = new Logger('DrainInterceptor');

  constructor(
    private readonly reflector: Reflector,
    private readonly drainService: DrainService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request: unknown = context.switchToHttp().getRequest();
    bindRequest(request, this.drainService);
    const drainAfter = this.reflector.getAllAndOverride<boolean | undefined>(DRAIN_AFTER_RESPONSE, [context.getHandler(), context.getClass()]);
    if (drainAfter) {
      // Started now, while the request is in flight: core marks the response
      // `Connection: close` and closes the connection once it has been sent.
      this.drainService
        .drainAfterResponse(request)
        .catch((error: unknown) => this.logger.error(`@DrainAfterResponse(): ${(error as Error)?.message ?? String(error)}`));
    }
    return next.handle().pipe(catchError((error: unknown) => this.withReadinessHeaders(error, context)));
  }

  private withReadinessHeaders(error: unknown, context: ExecutionContext): Observable<never> {
    if (error instanceof DrainNotReadyException) {
      const response: unknown = context.switchToHttp().getResponse();
      const adapter = this.adapterHost.httpAdapter;
      // Set, not replied: the reply stays the exception filter's job (Nest's default or the application's).
      if (!adapter.isHeadersSent(response)) {
        for (const [name, value] of Object.entries(error.headers)) adapter.setHeader(response, name, value);
      }
    }
    return throwError(() => error);
  }
}
