import { createRequestDrain } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';

/** Express request prototypes that carry a lazy `req.drain`, and whose drainer it is. */
const lazyDrainers = new WeakMap<object, Drainer>();

/** The drainer of a lazy `drain` accessor defined on `proto` by defineLazyDrain(), if any. */
export function lazyDrainerOf(proto: object): Drainer | undefined {
  return lazyDrainers.get(proto);
}

/**
 * `req.drain` as an accessor on an Express app's request prototype; the first read
 * stores the request's own. Adding an own property to every Express request costs a
 * new hidden class and a copy of its descriptors per request (Express sets each
 * request's prototype; bench/instructions-notes.md, "Adapters"), so nothing is added
 * until a handler reads it.
 */
export function defineLazyDrain(proto: object, drainer: Drainer): void {
  const own = (req: object, value: unknown): void => {
    Object.defineProperty(req, 'drain', { value, writable: true, enumerable: true, configurable: true });
  };
  Object.defineProperty(proto, 'drain', {
    configurable: true,
    enumerable: false,
    get(this: object): RequestDrain | undefined {
      if (this === proto) return undefined;
      const drain = createRequestDrain(drainer, this);
      own(this, drain);
      return drain;
    },
    set(this: object, value: unknown) {
      own(this, value);
    },
  });
  lazyDrainers.set(proto, drainer);
}
