import { Injectable, Logger } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { DRAIN_AFTER_RESPONSE } from './decorators.js';
import { DrainService } from './drain.service.js';
import { bindRequest } from './request-binding.js';

/**
 * Registered by DrainModule as an APP_INTERCEPTOR. For every HTTP request it
 * makes the DrainService reachable from `@Conn()` / `@DrainSignal()`, and for
 * routes marked `@DrainAfterResponse()` it starts the connection's drain, which
 * core turns into "close after the response in flight".
 */
@Injectable()
export class DrainInterceptor implements NestInterceptor {
  private readonly logger = new Logger('DrainInterceptor');

  constructor(
    private readonly reflector: Reflector,
    private readonly drainService: DrainService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request: unknown = context.switchToHttp().getRequest();
    bindRequest(request, this.drainService);
    const drainAfter = this.reflector.getAllAndOverride<boolean | undefined>(DRAIN_AFTER_RESPONSE, [context.getHandler(), context.getClass()]);
    if (drainAfter) {
      // Started now, while the request is in flight: core marks the response
      // `Connection: close` and closes the connection once it has been sent.
      this.drainService.drainAfterResponse(request).catch((error: unknown) => this.logger.error(`@DrainAfterResponse(): ${(error as Error)?.message ?? String(error)}`));
    }
    return next.handle();
  }
}
