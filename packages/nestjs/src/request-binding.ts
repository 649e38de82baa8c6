import { DrainError, DrainErrorCodes } from '@drainkit/core';
import type { DrainService } from './drain.service.js';
import { rawRequest } from './raw-request.js';

/**
 * Parameter decorators get no dependency injection, so the module's
 * interceptor, which runs before a handler's parameters are resolved, leaves
 * the request's DrainService here. Keyed by the Node request: one entry per
 * request, gone with it (several applications in one process stay apart).
 */
const services = new WeakMap<object, DrainService>();

export function bindRequest(request: unknown, service: DrainService): void {
  const raw = rawRequest(request);
  if (raw !== null && typeof raw === 'object') services.set(raw, service);
}

export function serviceOfRequest(request: unknown, decorator: string): DrainService {
  const raw = rawRequest(request);
  const service = raw !== null && typeof raw === 'object' ? services.get(raw) : undefined;
  if (!service) {
    throw new DrainError(
      DrainErrorCodes.NOT_ATTACHED,
      `${decorator}: this request did not pass DrainModule's interceptor; import DrainModule.forRoot() in the application (it works on HTTP routes only)`,
    );
  }
  return service;
}
