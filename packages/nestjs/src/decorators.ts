import { createParamDecorator, SetMetadata } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import { serviceOfRequest } from './request-binding.js';

/** Metadata key of `@DrainAfterResponse()`, read through `Reflector` by the module's interceptor. */
export const DRAIN_AFTER_RESPONSE = '@drainkit/nestjs:drain-after-response';

/**
 * On a route handler (or a whole controller): once this route's response is
 * sent, its connection is drained gracefully (HTTP/1.1 `Connection: close`,
 * HTTP/2 GOAWAY); other connections are untouched.
 */
export const DrainAfterResponse = (): MethodDecorator & ClassDecorator => SetMetadata(DRAIN_AFTER_RESPONSE, true);

/** Parameter decorator: the `ConnectionInfo` of the connection this request arrived on. */
export const Conn = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const request: unknown = context.switchToHttp().getRequest();
  return serviceOfRequest(request, '@Conn()').connectionOf(request);
});

/**
 * Parameter decorator: an `AbortSignal` that aborts when this request's
 * connection starts draining or the application starts shutting down; SSE and
 * streaming handlers end their stream on it.
 */
export const DrainSignal = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const request: unknown = context.switchToHttp().getRequest();
  return serviceOfRequest(request, '@DrainSignal()').signalFor(request);
});
