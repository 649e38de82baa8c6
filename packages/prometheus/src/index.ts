export { collectDrainMetrics } from './collect.js';
export type { DrainMetricsHandle } from './collect.js';
export { DEFAULT_BUCKETS } from './options.js';
export type { DrainMetricsOptions } from './options.js';
