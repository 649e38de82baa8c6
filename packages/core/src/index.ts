export { createDrainer, Drainer } from './drainer.js';
export type { CleanupHookOptions } from './drainer.js';
export type { HandleSignalsOptions, ShutdownOutcome } from './signals.js';
export { DrainError, DrainErrorCodes, describeValue, isDrainError } from './errors.js';
export type { DrainErrorCode } from './errors.js';
export { channelNames, channels } from './channels.js';
export { assertDrainerEventName, drainerEventNames } from './events.js';
export type {
  ConnectionCloseMessage,
  ConnectionDrainedMessage,
  ConnectionOpenMessage,
  DrainEndMessage,
  DrainProgressMessage,
  DrainStartMessage,
  ShutdownPhaseMessage,
} from './channels.js';
export type {
  CleanupErrorEvent,
  ConnectionCloseEvent,
  ConnectionOpenEvent,
  DrainerEventName,
  DrainerEvents,
  DrainerListener,
  DrainProgressEvent,
  DrainStartEvent,
  ShutdownPhase,
  ShutdownPhaseEvent,
} from './events.js';
export type {
  ConnectionFilter,
  ConnectionInfo,
  ConnectionProtocol,
  ConnectionSnapshot,
  ConnectionState,
  DrainConnectionOptions,
  DrainerOptions,
  DrainerState,
  DrainKind,
  DrainLogger,
  DrainOptions,
  DrainReport,
  DrainResult,
  DrainStats,
  ShutdownOptions,
  UpgradedDrainHook,
} from './types.js';
// Framework-neutral pieces the adapters (@drainkit/express, @drainkit/koa) share.
export { createRequestDrain, isDrainerLike } from './request-drain.js';
export type { RequestDrain } from './request-drain.js';
export { notAttachedError, readinessReply, resolveReadinessOptions } from './readiness.js';
export { resolveListenOptions } from './listen-options.js';
export type { ListenOptions, ResolvedListenOptions } from './listen-options.js';
export type { HttpReply, ReadinessOptions, ResolvedReadinessOptions } from './readiness.js';
export { adminRoutes, alreadyAnsweredError, handleAdminRequest, matchAdminRoute, resolveAdminOptions } from './admin.js';
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
