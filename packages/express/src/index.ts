export { drainMiddleware } from './request-drain.js';
export { liveness, readiness } from './readiness.js';
export { adminRouter } from './admin-router.js';
export type { ExpressAdminOptions } from './admin-router.js';
export { attach } from './attach.js';
export type { AttachOptions, Attached } from './attach.js';
export type { AdminVerdict, ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
