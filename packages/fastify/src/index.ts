import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';
import { drainkit } from './plugin.js';

// Here, in the entry point, so the augmentation is in index.d.ts and reaches
// every program that imports the package (a module only the plugin imports
// would not be in its declarations).
declare module 'fastify' {
  interface FastifyInstance {
    /** Set by the drainkit plugin: the drainer attached to `app.server`. */
    drainer: Drainer;
  }
  interface FastifyRequest {
    /** Set by the drainkit plugin: the request's connection, drain `signal` and `drainAfterResponse()`. */
    drain: RequestDrain;
  }
}

export { drainkit };
export { drainkitAdmin } from './admin.js';
export type { FastifyAdminOptions } from './admin.js';
export type { DrainkitOptions } from './options.js';
export type { Drainer, HandleSignalsOptions } from '@drainkit/core';
export type { AdminVerdict, RequestDrain } from '@drainkit/core/adapter';
export default drainkit;
