import type { Socket } from 'node:net';
import type { DrainerCore } from './core.js';

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
    socket.once('close', () => core.handshaking.delete(socket));
  };
}

/** The handshake is over: from now on the TLSSocket is the tracked one. */
export function handshakeDone(core: DrainerCore, tlsSocket: Socket): void {
  const raw = (tlsSocket as Socket & { _parent?: unknown })._parent;
  if (raw !== undefined && raw !== null) core.handshaking.delete(raw as Socket);
}
