import { closeSync, openSync, readSync } from 'node:fs';
import type net from 'node:net';

/**
 * How many connections the kernel holds in a listening socket's accept queue
 * right now (Linux), read from /proc/net/tcp or tcp6: for a socket in LISTEN
 * state (st 0A) the rx_queue field is `sk_ack_backlog`, the queue's length
 * (net/ipv4/tcp_ipv4.c get_tcp4_sock(), net/ipv6/tcp_ipv6.c get_tcp6_sock();
 * `ss -ltn` shows it as Recv-Q). Checked on this project's CI kernel (Debian
 * 12, Linux 6.x): three connections queued and none accepted read 3, then 2
 * after one accept(). Listening sockets come first in those files (the seq file
 * walks the listening hash before the established one), so one read of the
 * file's first bytes finds them without the kernel formatting every connection.
 *
 * Undefined when the figure cannot be read: not Linux, an address family other
 * than IPv4/IPv6, no line or more than one LISTEN line for the port (SO_REUSEPORT
 * listeners in several processes share a port; each has its own queue).
 */
export function acceptQueueLength(server: net.Server): number | undefined {
  const address = server.address();
  if (address === null || typeof address === 'string') return undefined;
  return acceptQueueLengthAt(address);
}

/** acceptQueueLength() for the listening socket bound to `address`. */
export function acceptQueueLengthAt(address: net.AddressInfo): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const file = address.family === 'IPv6' || address.family === (6 as unknown) ? '/proc/net/tcp6' : '/proc/net/tcp';
  let text: string;
  try {
    text = readHead(file);
  } catch {
    return undefined;
  }
  const port = `:${address.port.toString(16).toUpperCase().padStart(4, '0')}`;
  let found: number | undefined;
  for (const line of text.split('\n')) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue ..."
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] !== '0A' || !fields[1]!.endsWith(port)) continue;
    if (found !== undefined) return undefined;
    const queue = fields[4]!.split(':')[1];
    found = queue === undefined ? undefined : Number.parseInt(queue, 16);
    if (found === undefined || Number.isNaN(found)) return undefined;
  }
  return found;
}

/** The first 64 KiB of a /proc file: enough for the listening sockets, which come first. */
function readHead(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(65_536);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    const text = buffer.toString('latin1', 0, length);
    // Whole lines only: one cut at the buffer's end could read as a wrong figure.
    return text.slice(0, text.lastIndexOf('\n') + 1);
  } finally {
    closeSync(fd);
  }
}
