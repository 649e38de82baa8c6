export { DrainModule } from './drain.module.js';
export { DrainService } from './drain.service.js';
export type { DrainReadiness } from './drain.service.js';
export { DrainInterceptor } from './drain.interceptor.js';
export { DrainHealthIndicator } from './drain-health.indicator.js';
export type { DrainHealthResult } from './drain-health.indicator.js';
export { Conn, DrainAfterResponse, DrainSignal, DRAIN_AFTER_RESPONSE } from './decorators.js';
export { DRAIN_MODULE_OPTIONS } from './options.js';
export type { DrainModuleAsyncOptions, DrainModuleOptions, DrainModuleRootOptions, DrainOptionsFactory } from './options.js';
