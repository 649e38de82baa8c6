import type { Drainer } from '@drainkit/core';
import { createRequestDrain } from '@drainkit/core/adapter';
import type { RequestDrain } from '@drainkit/core/adapter';

const kDrain = Symbol('drainkit.request-drain');

type Carrier = { raw: object; [kDrain]?: RequestDrain };

/**
 * The `request.drain` getter: built on first read and kept on the request, so a
 * request that never looks at it costs nothing. `drainers` holds the primary
 * server's drainer first, then those of Fastify's extra `localhost` bindings.
 */
export function requestDrainGetter(drainers: readonly Drainer[]): (this: Carrier) => RequestDrain {
  return function drainGetter(this: Carrier): RequestDrain {
    let handle = this[kDrain];
    if (handle === undefined) {
      const raw = this.raw;
      const owner = drainers.length === 1 ? drainers[0]! : (drainers.find((d) => d.connectionOf(raw) !== undefined) ?? drainers[0]!);
      handle = createRequestDrain(owner, raw);
      this[kDrain] = handle;
    }
    return handle;
  };
}
