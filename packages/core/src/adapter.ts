/**
 * `@drainkit/core/adapter`: the framework-neutral pieces that drainkit's own
 * adapters (@drainkit/express, @drainkit/koa, @drainkit/nestjs,
 * @drainkit/prometheus) share: per-request drain handles, the readiness
 * reply, listen options and the admin routes.
 *
 * INTERNAL to drainkit's own packages: no semver promise. Names here may
 * change in any release; applications use `@drainkit/core` and the adapters.
 */
export { createRequestDrain, isDrainerLike } from './request-drain.js';
export type { RequestDrain } from './request-drain.js';
export { notAttachedError, readinessReply, resolveReadinessOptions } from './readiness.js';
export type { HttpReply, ReadinessOptions, ResolvedReadinessOptions } from './readiness.js';
export { livenessReply, readinessWithChecks } from './probes.js';
export type { ProbeTarget } from './probes.js';
export { resolveListenOptions } from './listen-options.js';
export type { ListenOptions, ResolvedListenOptions } from './listen-options.js';
export { adminRoutes, alreadyAnsweredError, handleAdminRequest, matchAdminRoute, resolveAdminOptions } from './admin.js';
export { describeValue } from './errors.js';
export { assertDrainerEventName, drainerEventNames } from './events.js';
export type {
  AdminAuthorize,
  AdminMatch,
  AdminOptions,
  AdminRequest,
  AdminRoute,
  AdminRouteName,
  AdminVerdict,
  ResolvedAdminOptions,
} from './admin.js';
