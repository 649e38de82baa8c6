import { drainkit } from './plugin.js';

export { drainkit };
export { drainkitAdmin } from './admin.js';
export type { FastifyAdminOptions } from './admin.js';
export type { DrainkitOptions } from './options.js';
export type { Drainer, HandleSignalsOptions } from '@drainkit/core';
export type { AdminVerdict, RequestDrain } from '@drainkit/core/adapter';
export default drainkit;
