import type { Socket } from 'node:net';
import type { DrainerCore } from './core.js';
import { withTimeout } from './timeout.js';

/**
 * TLS servers: a connection is tracked from 'secureConnection', once its
 * handshake is over; until then its raw socket is only counted here, so a
 * client that never sends a ClientHello is still closed (and reported) by a
 * shutdown (untracked.ts). `tlsSocket._parent` is the raw socket a server-side
 * TLSSocket wraps (Node internal, checked on Node 20.20 and 24.x).
 */

/** TLS servers' 'connection' listener: the raw socket is counted from its first byte, not from the end of its handshake. */
export function rawTlsConnectionListener(core: DrainerCore): (socket: Socket) => void {
  return (socket: Socket): void => {
    if (core.disposed) return;
    core.handshaking.add(socket);
    // One listener per connection, removed with the socket: not one per request.
    socket.once('close', () => forget(core, socket));
  };
}

/** The handshake is over: from now on the TLSSocket is the tracked one. */
export function handshakeDone(core: DrainerCore, tlsSocket: Socket): void {
  const raw = (tlsSocket as Socket & { _parent?: unknown })._parent;
  if (raw !== undefined && raw !== null) forget(core, raw as Socket);
}

function forget(core: DrainerCore, raw: Socket): void {
  if (core.handshaking.delete(raw) && core.handshaking.size === 0) core.handshakesSettled?.();
}

/**
 * Resolves once no TLS handshake is under way, or at the shutdown's deadline. A
 * shutdown waits for it before it seals its drain: a connection the listener
 * accepted from the kernel's queue ends its handshake a few ms after the
 * listener closed, and then joins the drain and its report instead of draining
 * on its own. Resolved from the set's last delete, which runs before the
 * connection is tracked ('secureConnection'); the awaiting code runs a
 * microtask later. Polled, as untracked.ts closeUntracked is, so that a later
 * shutdown() with a shorter deadline takes effect here too.
 */
export async function handshakesSettled(core: DrainerCore): Promise<void> {
  if (core.handshaking.size === 0) return;
  const settled = new Promise<void>((resolve) => {
    core.handshakesSettled = resolve;
  });
  try {
    while (core.handshaking.size > 0 && Date.now() < core.shutdownDeadlineAt) {
      // Ref'd: the shutdown must reach its report before the process may exit (drain.ts).
      if (await withTimeout(settled, Math.min(100, core.shutdownDeadlineAt - Date.now()), true)) return;
    }
  } finally {
    core.handshakesSettled = undefined;
  }
}
