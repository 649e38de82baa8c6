import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type net from 'node:net';

/** What the kernel holds for one listening socket that Node has not accepted yet. */
export interface AcceptQueueState {
  /** Connections whose handshake is done, waiting in the accept queue. */
  queued: number;
  /**
   * Handshakes under way (SYN answered, final ACK not yet taken): a client may
   * already have written its request on one. 0 where it cannot be told.
   */
  handshakes: number;
}

/** Reads the kernel's accept queue of one listening socket; `undefined` when it cannot. */
export interface AcceptQueueReader {
  read(): AcceptQueueState | undefined;
  dispose(): void;
}

const HEAD_BYTES = 2_048;
const MAX_BYTES = 65_536;
/** An idle listening socket's `sk_refcnt`: its file's reference (see below). */
const LISTENER_OWN_REFS = 1;

/**
 * How many connections the kernel holds in a listening socket's accept queue
 * right now (Linux), read from /proc/net/tcp or tcp6: for a socket in LISTEN
 * state (st 0A) the rx_queue field is `sk_ack_backlog`, the queue's length
 * (net/ipv4/tcp_ipv4.c get_tcp4_sock(), net/ipv6/tcp_ipv6.c get_tcp6_sock();
 * `ss -ltn` shows it as Recv-Q). Checked on this project's CI machine (Linux
 * 6.x): three connections queued and none accepted read 3, then 2 after one
 * accept(). Listening sockets come first in those files (the seq file walks the
 * listening hash before the established one), so reading the file's first
 * couple of KiB finds them without the kernel formatting every connection:
 * 13–25 µs per read here, which is the window between the look and the close.
 *
 * Handshakes under way are not in that queue, and closing the listener drops
 * them: the client's final ACK (and the request written behind it) then meets
 * a reset. Each one holds a reference on the listener (its request sock's
 * `rsk_listener`, net/ipv4/inet_connection_sock.c inet_reqsk_alloc()), as each
 * queued connection does until accept() frees its request sock, and the line's
 * refcount field shows `sk_refcnt`. An idle listener holds only its file's
 * reference: lookups and the listening hash take none since Linux 4.7 (listeners
 * are SOCK_RCU_FREE, net/ipv4/inet_hashtables.c __inet_hash()), older than any
 * kernel Node 20 runs on. Checked on Linux 6.18 (this project's CI machine): an
 * idle listener reads 1; three queued connections read 4; a handshake whose
 * final ACK a firewall rule dropped (a state 03 line on the port) added 1 until
 * it completed. So handshakes = refcount − queued − 1. A passing reference (a
 * packet being processed, `ss` dumping) reads as a handshake for microseconds;
 * a SYN answered with a cookie (net.ipv4.tcp_syncookies, SYN queue full) holds
 * none and stays invisible.
 *
 * The line is the one whose inode is the listening socket's own (fstat of the
 * handle's fd); where the fd is not exposed, the only LISTEN line on the port.
 * `undefined` reader: not Linux, not a TCP listener, or no such line.
 */
export function acceptQueueReader(server: net.Server): AcceptQueueReader | undefined {
  if (process.platform !== 'linux') return undefined;
  const address = server.address();
  if (address === null || typeof address === 'string') return undefined;
  const handleFd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  let inode: number | undefined;
  try {
    if (typeof handleFd === 'number' && handleFd >= 0) inode = fstatSync(handleFd).ino;
  } catch {
    return undefined;
  }
  return acceptQueueReaderAt(address, inode);
}

/** acceptQueueReader() for the listener on `address` (its socket's inode if known, else the only one on the port). */
export function acceptQueueReaderAt(address: Pick<net.AddressInfo, 'family' | 'port'>, inode?: number): AcceptQueueReader | undefined {
  if (process.platform !== 'linux') return undefined;
  const file = address.family === 'IPv6' || address.family === (6 as unknown) ? '/proc/net/tcp6' : '/proc/net/tcp';
  const port = `:${address.port.toString(16).toUpperCase().padStart(4, '0')}`;
  const ino = inode === undefined ? undefined : String(inode);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  let buffer = Buffer.allocUnsafe(HEAD_BYTES);
  const reader: AcceptQueueReader = {
    read() {
      if (fd < 0) return undefined;
      try {
        for (;;) {
          // pread at 0 makes the seq file start over: one read, no reopen.
          const length = readSync(fd, buffer, 0, buffer.length, 0);
          const found = listenLineIn(buffer.toString('latin1', 0, length), port, ino);
          if (found !== 'more' || length < buffer.length || buffer.length >= MAX_BYTES) {
            if (found === 'more' || found === undefined) return undefined;
            const [queued, refs] = found;
            return { queued, handshakes: refs === undefined ? 0 : Math.max(0, refs - queued - LISTENER_OWN_REFS) };
          }
          buffer = Buffer.allocUnsafe(Math.min(buffer.length * 4, MAX_BYTES)); // many listeners: read further
        }
      } catch {
        return undefined;
      }
    },
    dispose() {
      if (fd < 0) return;
      try {
        closeSync(fd);
      } catch {
        // Already gone.
      }
      fd = -1;
    },
  };
  if (reader.read() === undefined) {
    reader.dispose();
    return undefined;
  }
  return reader;
}

/**
 * The rx_queue and refcount of our LISTEN line in the text, `undefined` if there
 * is none (or, matching by port, more than one), `'more'` if the text ended
 * among LISTEN lines.
 */
function listenLineIn(text: string, port: string, inode: string | undefined): [queued: number, refs: number | undefined] | undefined | 'more' {
  let found: [number, number | undefined] | undefined;
  let start = text.indexOf('\n') + 1; // the header
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) return found ?? 'more'; // a cut line: read further unless the line was found
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr tm->when retrnsmt   uid  timeout inode"
    // then, unlabelled: refcount, the sock's address, ... (get_tcp4_sock(), get_tcp6_sock())
    const fields = text.slice(start, end).trim().split(/\s+/);
    start = end + 1;
    if (fields[3] !== '0A') return found; // past the listening sockets
    if (!fields[1]!.endsWith(port) || (inode !== undefined && fields[9] !== inode)) continue;
    if (found !== undefined) return undefined; // two listeners on the port (SO_REUSEPORT): which is ours?
    const queue = Number.parseInt(fields[4]!.split(':')[1] ?? '', 16);
    if (Number.isNaN(queue)) return undefined;
    const refs = /^\d+$/.test(fields[10] ?? '') ? Number(fields[10]) : undefined;
    if (inode !== undefined) return [queue, refs];
    found = [queue, refs];
  }
}
