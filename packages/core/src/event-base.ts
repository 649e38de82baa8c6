import { EventEmitter } from 'node:events';

/**
 * EventEmitter's prototype without its constructor. `EventEmitter.init` sets
 * `_events`, `_eventsCount` and a symbol on every emitter it constructs: one more
 * emitter class turns those stores megamorphic for every IncomingMessage and
 * ServerResponse Node constructs afterwards (V8 keeps at most 4 shapes per
 * property access). The EventEmitter methods create `_events` on first use, so
 * a drainer behaves the same (and is still `instanceof EventEmitter`).
 */
export const EventEmitterWithoutInit = function DrainerEvents() {} as unknown as typeof EventEmitter;
EventEmitterWithoutInit.prototype = EventEmitter.prototype;
