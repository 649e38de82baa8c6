import { drainkit } from './plugin.js';

export { drainkit };
export { drainkitAdmin } from './admin.js';
export type { FastifyAdminOptions } from './admin.js';
export type { DrainkitOptions } from './options.js';
export type { AdminVerdict, Drainer, HandleSignalsOptions, RequestDrain } from '@drainkit/core';
export default drainkit;
