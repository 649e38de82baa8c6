export { createDrainer, Drainer } from './drainer.js';
export type { CleanupHookOptions } from './shutdown.js';
export type { BeforeShutdownOptions } from './before-shutdown.js';
export type { HealthCheck, HealthCheckOptions, HealthCheckResult, HealthReport } from './health.js';
export type { HandleSignalsOptions, ShutdownOutcome } from './signals.js';
export { DrainError, DrainErrorCodes, isDrainError } from './errors.js';
export type { DrainErrorCode } from './errors.js';
export { channelNames, channels } from './channels.js';
export type { UnansweredMessage, UnansweredWhere } from './unanswered.js';
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
// What the adapters share (request drains, readiness, listen options, admin
// routes) is not public API: it lives behind `@drainkit/core/adapter`.
