import type { ServerKind } from '../helpers/server-kinds.js';
import { startNestApp } from './nest-app.js';
import type { Platform } from './nest-app.js';

/** A Nest application (DrainModule attaching the drainer itself) as a kind for the shared drain suite. */
export function nestKind(platform: Platform): ServerKind {
  return {
    name: `nest (${platform})`,
    protocol: 'http/1.1',
    secure: false,
    async start() {
      const { app, port, drain, gate } = await startNestApp(platform, { drain: { timeoutMs: 2_000 } });
      return {
        port,
        drainer: drain.drainer,
        calls: gate.calls,
        release: gate.release,
        slowStarted: gate.slowStarted,
        async close() {
          gate.release();
          // app.close() drains whatever the test left open, through the module's shutdown hook.
          await app.close();
        },
      };
    },
  };
}
