export { DrainModule } from './drain.module.js';
export { DrainService } from './drain.service.js';
export type { DrainReadiness, DrainReadinessOptions } from './drain.service.js';
export { DrainErrorFilter, drainErrorStatus } from './drain-error.filter.js';
export type { DrainErrorBody } from './drain-error.filter.js';
export { DrainNotReadyException } from './drain-not-ready.exception.js';
export type { DrainNotReadyBody } from './drain-not-ready.exception.js';
export { DrainInterceptor } from './drain.interceptor.js';
export { DrainHealthIndicator } from './drain-health.indicator.js';
export type { DrainHealthResult } from './drain-health.indicator.js';
export { Conn, DrainAfterResponse, DrainSignal, DRAIN_AFTER_RESPONSE } from './decorators.js';
export { DRAIN_MODULE_OPTIONS } from './options.js';
export type { DrainModuleAsyncOptions, DrainModuleExtras, DrainModuleOptions, DrainModuleRootOptions, DrainOptionsFactory } from './options.js';
// What DrainService, the decorators and the error filter hand out, so an app needs
// only @drainkit/nestjs in its package.json (and `import type` works with isolatedModules).
export { DrainError, DrainErrorCodes, isDrainError } from '@drainkit/core';
export type {
  ConnectionFilter,
  ConnectionInfo,
  ConnectionSnapshot,
  ConnectionState,
  ConnectionProtocol,
  DrainConnectionOptions,
  Drainer,
  DrainerEventName,
  DrainerEvents,
  DrainerListener,
  DrainerOptions,
  DrainerState,
  DrainErrorCode,
  DrainOptions,
  DrainReport,
  DrainResult,
  DrainStats,
  ShutdownOptions,
  ShutdownPhase,
  ShutdownPhaseEvent,
} from '@drainkit/core';
