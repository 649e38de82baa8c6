import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { kConnection } from './connection.js';
import type { Carrier } from './connection.js';

const inheritedEmit = EventEmitter.prototype.emit;

type DestroyFn = (this: Socket, error: Error | null, callback: (error?: Error | null) => void) => void;

/**
 * Installed as a tracked socket's own `emit`, it learns of the socket's close
 * before any 'close' listener runs, without being a listener. Node adds and
 * removes a 'close' listener on the socket for every response; next to Node's
 * own and one of ours, that grows the socket's listener array to 19 slots for
 * good (about 200 bytes per keep-alive socket), and stepping our listener
 * aside per request instead costs about 1 µs of CPU per request.
 */
function trackedSocketEmit(this: Socket, event: string | symbol, arg?: unknown): boolean {
  if (event === 'close') onTrackedSocketClose.call(this);
  // Listeners see exactly the arguments emit() was given.
  if (arguments.length === 1) return inheritedEmit.call(this, event);
  return arguments.length === 2 ? inheritedEmit.call(this, event, arg) : (Reflect.apply(inheritedEmit, this, arguments) as boolean);
}

/**
 * Installed as a tracked socket's own `_destroy`: the emit above goes on only
 * once the socket is being destroyed. A net.Socket emits 'close' only after its
 * `_destroy` (lib/net.js: the handle's close callback, or a tick later without
 * a handle; Node 20.20, 22.23, 24.22, 26.12). Installed from the start, a second
 * `emit` function reached the stream code that every IncomingMessage runs too
 * (endReadableNT, resume_, emitReadable_: the socket's 'end', 'resume',
 * 'readable'), and V8 stopped inlining `emit` there for every request
 * (~+500 instructions per request on Node 20; bench/instructions-notes.md).
 */
function trackedSocketDestroy(this: Socket, error: Error | null, callback: (error?: Error | null) => void): void {
  hookClose(this);
  (Object.getPrototypeOf(this) as { _destroy: DestroyFn })._destroy.call(this, error, callback);
}

function hookClose(socket: Socket): void {
  // A socket whose emit someone else replaced gets a plain listener instead.
  if (socket.emit === inheritedEmit) socket.emit = trackedSocketEmit as Socket['emit'];
  else socket.prependListener('close', onTrackedSocketClose);
}

function onTrackedSocketClose(this: Socket): void {
  const connection = (this as Carrier)[kConnection];
  if (connection !== undefined && connection.socket === this) connection.owner.socketClosed(connection);
}

/** Reports the socket's 'close' to its connection's owner. */
export function trackSocket(socket: Socket): void {
  const s = socket as Socket & { _destroy?: unknown };
  // Already destroyed (its close is on its way), or a `_destroy` of its own: hooked now.
  if (socket.emit === inheritedEmit && !socket.destroyed && !Object.hasOwn(s, '_destroy')) s._destroy = trackedSocketDestroy;
  else hookClose(socket);
}

export function untrackSocket(socket: Socket): void {
  const s = socket as unknown as { _destroy?: unknown };
  if (Object.hasOwn(s, '_destroy') && s._destroy === trackedSocketDestroy) delete s._destroy;
  if (Object.hasOwn(socket, 'emit') && socket.emit === (trackedSocketEmit as Socket['emit'])) delete (socket as Partial<Socket>).emit;
  else socket.removeListener('close', onTrackedSocketClose);
  delete (socket as Carrier)[kConnection];
}
