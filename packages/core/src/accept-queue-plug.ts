import { openSync, readSync } from 'node:fs';
import net from 'node:net';
import { closeQuietly } from './accept-queue.js';

/**
 * Marks an accepted socket that is the server side of one of our own plugs: the
 * drainer does not track it (connection-tracking.ts) and the listener's close
 * destroys it (listener-close.ts).
 */
export const kAcceptQueuePlug = Symbol('drainkit.acceptQueuePlug');

type PeerHandle = { getpeername?: (out: object) => number };

/**
 * Our own connection to a listener whose backlog is 0, put into its accept
 * queue right before the listener closes, so that nothing else can get in.
 *
 * Why: closing a listener resets what its accept queue holds (Linux
 * `inet_csk_listen_stop()`), and a proxy's connection that completed its
 * handshake between our last look at the queue and the close is reset with the
 * request written on it (issue 16: nginx sends a SYN every ~70 µs during a
 * restart; ~1 POST lost per 500 restarts after every other fix). With the
 * backlog at 0 the queue is full with one connection (`sk_acceptq_is_full()`
 * is `sk_ack_backlog > sk_max_ack_backlog`, include/net/sock.h), and a SYN that
 * finds it full is dropped (`tcp_conn_request()`, net/ipv4/tcp_input.c,
 * `LINUX_MIB_LISTENOVERFLOWS`), with or without SYN cookies; the client resends
 * it a second later and meets the closed port (a proxy then tries another
 * server) or the restarted one. So with our plug alone in the queue and no
 * handshake under way, the listener can close at leisure and reset only the
 * plug.
 *
 * The handshake to a local address completes inside the `connect(2)` call (the
 * packets go through the loopback device's softirq on the calling CPU), so a
 * tick later the plug is either in the queue or was shut out by someone else's
 * connection. Which one the caller tells from the plug's side (the peer name
 * exists once its handshake is done: `inet_getname()` answers ENOTCONN in
 * SYN_SENT) and the listener's line (exactly one queued, no handshake under
 * way). Checked on Linux 6.18 with Node 20.20, 22.23, 24.22 and 26.12 (Node
 * calls `connect(2)` a tick after `socket.connect()` to an IP address:
 * lib/net.js lookupAndConnect()): the plug's peer name reads at once, the queue
 * reads 1, and another client's SYN sent then stays unanswered (SYN_SENT: the
 * test/core/accept-queue-plug.test.ts checks) and counts one ListenOverflow; its
 * resend ~1 s later got ECONNREFUSED from the closed port (a one-off script,
 * 2026-12-02, Node 20.20).
 */
export class AcceptQueuePlug {
  readonly socket: net.Socket;
  /** The address and port the plug connects from: the accepted peer's remote address. */
  private local: { address?: string; port?: number } = {};
  private readonly peer = {};

  private readonly target: { address: string; port: number };

  /** Made ahead of its connect(), so that the connect follows the last read closely. */
  constructor(target: { address: string; port: number }) {
    this.target = target;
    this.socket = new net.Socket();
    // ECONNREFUSED, ECONNRESET once the listener closed, EADDRNOTAVAIL without ::1: all expected.
    this.socket.on('error', () => {});
  }

  /** Starts the handshake: `connect(2)` runs on the next tick (lib/net.js lookupAndConnect(), for an IP address). */
  connect(): void {
    this.socket.connect({ host: this.target.address, port: this.target.port });
  }

  /** True once the plug's handshake is done (its server side queued, or in the listener's handshake table). */
  established(): boolean {
    const handle = (this.socket as unknown as { _handle?: PeerHandle | null })._handle;
    return typeof handle?.getpeername === 'function' && handle.getpeername(this.peer) === 0;
  }

  /** Remembers where the plug connects from, to know its server side if that is accepted after all. */
  remember(): void {
    if (this.local.port !== undefined) return;
    const address = this.socket.address();
    if ('port' in address && address.port > 0) this.local = { address: address.address, port: address.port };
  }

  /** Whether an accepted socket is this plug's server side. */
  isPeerOf(socket: net.Socket): boolean {
    return this.local.port !== undefined && socket.remotePort === this.local.port && socket.remoteAddress === this.local.address;
  }

  dispose(): void {
    this.socket.destroy();
  }
}

/**
 * Where a plug connects to reach a listener bound to `address`: its own address,
 * or the loopback one for a wildcard. `undefined` when it cannot (a pipe).
 */
export function plugTarget(address: net.AddressInfo | string | null): { address: string; port: number } | undefined {
  if (address === null || typeof address === 'string') return undefined;
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  return { address: host, port: address.port };
}

/** Reads `TcpExt: SyncookiesSent` again and again from one open file: -1 where it cannot. */
export interface SyncookieCounter {
  read(): number;
  dispose(): void;
}

/**
 * How many SYNs this network namespace has answered with a SYN cookie
 * (`TcpExt: SyncookiesSent` in /proc/net/netstat).
 *
 * Why the plug needs it: at backlog 0 a SYN that arrives while another handshake
 * is under way on the listener gets a cookie (the SYN queue counts as full), and
 * a connection made from a cookie holds no reference on the listener (its request
 * sock is made without one: `inet_reqsk_alloc(..., attach_listener = false)` in
 * `cookie_v4_check()`/`cookie_v6_check()`), so the refcount the accept-queue
 * reader counts handshakes from hides that other handshake. Seen on Linux 6.18:
 * a handshake held half-open by a firewall rule, then a plug: the listener read
 * 1 queued and no handshake, SyncookiesSent +1 (test/core/accept-queue-plug.test.ts).
 * So a plug is trusted only if no cookie was sent since the count before it.
 *
 * The file stays open and is read with pread into one buffer, and the number is
 * parsed from the bytes: a plug's connect follows a read of the accept queue, and
 * the shorter that gap, the less often someone else's connection gets in first.
 */
export function syncookieCounter(): SyncookieCounter {
  let fd = -1;
  const buffer = Buffer.allocUnsafe(16_384);
  try {
    fd = openSync('/proc/net/netstat', 'r');
  } catch {
    // Not Linux, or no /proc: no counter.
  }
  const counter: SyncookieCounter = {
    read() {
      if (fd < 0) return -1;
      try {
        const length = readSync(fd, buffer, 0, buffer.length, 0);
        // SyncookiesSent has been the first TcpExt counter since cookies exist
        // (snmp4_net_list[], net/ipv4/proc.c): checked on the header line, not assumed.
        return startsWithAt(buffer, 0, length, HEADER) ? firstValue(buffer, length) : -1;
      } catch {
        return -1;
      }
    },
    dispose() {
      closeQuietly(fd);
      fd = -1;
    },
  };
  if (counter.read() < 0) counter.dispose();
  return counter;
}

const TCP_EXT = Buffer.from('TcpExt:', 'latin1');
const HEADER = Buffer.from('TcpExt: SyncookiesSent ', 'latin1');

/** The number after "TcpExt: " at the start of the line after the first (the values line); -1 if none. */
function firstValue(buffer: Buffer, length: number): number {
  // indexOf is native: a byte loop here runs in the interpreter (this code runs once per process).
  let i = buffer.indexOf(0x0a);
  if (i < 0 || i >= length || !startsWithAt(buffer, ++i, length, TCP_EXT)) return -1;
  i += TCP_EXT.length;
  while (i < length && buffer[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < length && buffer[i]! >= 0x30 && buffer[i]! <= 0x39; i++, digits++) value = value * 10 + (buffer[i]! - 0x30);
  return digits > 0 ? value : -1;
}

function startsWithAt(buffer: Buffer, at: number, length: number, prefix: Buffer): boolean {
  if (at + prefix.length > length) return false;
  for (let k = 0; k < prefix.length; k++) if (buffer[at + k] !== prefix[k]) return false;
  return true;
}
