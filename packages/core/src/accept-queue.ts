import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type net from 'node:net';

/** Reads the kernel's accept-queue length of one listening socket; `undefined` when it cannot. */
export interface AcceptQueueReader {
  read(): number | undefined;
  dispose(): void;
}

const HEAD_BYTES = 2_048;
const MAX_BYTES = 65_536;

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
          const found = listenQueueIn(buffer.toString('latin1', 0, length), port, ino);
          if (found !== 'more' || length < buffer.length || buffer.length >= MAX_BYTES) return found === 'more' ? undefined : found;
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
 * The rx_queue of our LISTEN line in the text, `undefined` if there is none (or,
 * matching by port, more than one), `'more'` if the text ended among LISTEN lines.
 */
function listenQueueIn(text: string, port: string, inode: string | undefined): number | undefined | 'more' {
  let found: number | undefined;
  let start = text.indexOf('\n') + 1; // the header
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) return found ?? 'more'; // a cut line: read further unless the line was found
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr tm->when retrnsmt   uid  timeout inode"
    const fields = text.slice(start, end).trim().split(/\s+/);
    start = end + 1;
    if (fields[3] !== '0A') return found; // past the listening sockets
    if (!fields[1]!.endsWith(port) || (inode !== undefined && fields[9] !== inode)) continue;
    if (found !== undefined) return undefined; // two listeners on the port (SO_REUSEPORT): which is ours?
    const queue = Number.parseInt(fields[4]!.split(':')[1] ?? '', 16);
    if (Number.isNaN(queue)) return undefined;
    if (inode !== undefined) return queue;
    found = queue;
  }
}
