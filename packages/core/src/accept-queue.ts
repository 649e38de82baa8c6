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
  /** The same object each time, overwritten by the next read. */
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
 * couple of KiB finds them without the kernel formatting every connection;
 * and once our line's place is known, the reads stop right at its end: the kernel
 * fills a read by walking its hash tables bucket by bucket, and on a host with
 * few sockets 2 KiB meant walking most of the (mostly empty) established table:
 * 250–280 µs per read on this project's CI machine (Linux 6.18, 2026-12-02),
 * 10–30 µs for up to 600 bytes.
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
 * none and stays invisible, and a connection made from one sits in the queue
 * without a reference, hiding a handshake from the subtraction
 * (accept-queue-plug.ts syncookieCounter() is how the plug guards against it).
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
  const match: LineMatch = {
    port: Buffer.from(`:${address.port.toString(16).toUpperCase().padStart(4, '0')}`, 'latin1'),
    inode: inode === undefined ? undefined : Buffer.from(String(inode), 'latin1'),
    tokens: new Int32Array(2 * FIELDS),
    queued: 0,
    refs: -1,
    lineEnd: 0,
  };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  let buffer = Buffer.allocUnsafe(HEAD_BYTES);
  // How many bytes to ask for: up to the end of our line once it was found by inode
  // (not a byte more: the kernel would look for the next socket, walking empty hash
  // buckets). Its place moves only when listeners come or go or a refcount gains a
  // digit; a line cut short reads again, asking for more.
  let want = HEAD_BYTES;
  // One object, overwritten by each read: nothing is allocated between the kernel's
  // answer and the caller's close, so no garbage collection can come in between
  // (a scavenge there took 1–3 ms under load in traced runs while SYNs kept coming:
  // bench/results/proxy-restart-ab-nginx-forensics-2026-12-02.txt).
  const state: AcceptQueueState = { queued: 0, handshakes: 0 };
  const reader: AcceptQueueReader = {
    read() {
      if (fd < 0) return undefined;
      try {
        for (;;) {
          // pread at 0 makes the seq file start over: one read, no reopen.
          const length = readSync(fd, buffer, 0, want, 0);
          const found = scanListenLines(buffer, length, match);
          if (found !== MORE || length < want || want >= MAX_BYTES) {
            if (found !== FOUND) return undefined;
            if (match.inode !== undefined) want = Math.min(buffer.length, match.lineEnd);
            state.queued = match.queued;
            state.handshakes = match.refs < 0 ? 0 : Math.max(0, match.refs - match.queued - LISTENER_OWN_REFS);
            return state;
          }
          want = Math.min(Math.max(want, HEAD_BYTES) * 4, MAX_BYTES); // many listeners: read further
          if (want > buffer.length) buffer = Buffer.allocUnsafe(want);
        }
      } catch {
        return undefined;
      }
    },
    dispose() {
      closeQuietly(fd);
      fd = -1;
    },
  };
  if (reader.read() === undefined) {
    reader.dispose();
    return undefined;
  }
  return reader;
}

// "  sl  local_address rem_address   st tx_queue:rx_queue tr tm->when retrnsmt   uid  timeout inode"
// then, unlabelled: refcount, the sock's address, ... (get_tcp4_sock(), get_tcp6_sock()).
const FIELDS = 11; // sl .. refcount
const LOCAL = 1;
const STATE = 3;
const QUEUES = 4;
const INODE = 9;
const REFCOUNT = 10;
const FOUND = 0;
const NONE = 1;
const MORE = 2;

/** What to look for, and where scanListenLines() leaves what it found (no allocation per read). */
interface LineMatch {
  port: Buffer;
  inode: Buffer | undefined;
  /** Start and end offsets of the fields of the line being looked at. */
  tokens: Int32Array;
  queued: number;
  /** -1: not a number. */
  refs: number;
  /** The offset just past the found line's newline. */
  lineEnd: number;
}

/**
 * Finds our LISTEN line in the first `length` bytes: FOUND (its rx_queue and
 * refcount in `match`), NONE if there is none (or, matching by port, more than
 * one), MORE if the bytes ended among LISTEN lines. Works on the bytes, without
 * allocating (see `state` above).
 */
function scanListenLines(buffer: Buffer, length: number, match: LineMatch): number {
  const { tokens } = match;
  let found = false;
  // Line ends by indexOf (native; a byte loop runs in the interpreter the first times, and this runs once per process).
  let i = buffer.indexOf(0x0a) + 1; // past the header
  if (i <= 0 || i > length) return MORE;
  for (;;) {
    const end = buffer.indexOf(0x0a, i);
    if (end < 0 || end >= length) return found ? FOUND : MORE; // a cut line: read further unless the line was found
    let count = 0;
    let j = i;
    while (count < FIELDS) {
      while (j < end && buffer[j] === 0x20) j++;
      if (j >= end) break;
      tokens[2 * count] = j;
      while (j < end && buffer[j] !== 0x20) j++;
      tokens[2 * count + 1] = j;
      count++;
    }
    i = end + 1;
    // Past the listening sockets (they come first), or a line too short to be one.
    if (count <= STATE || !isState(buffer, tokens, 0x30, 0x41)) return found ? FOUND : NONE;
    if (count < FIELDS || !endsWith(buffer, tokens, LOCAL, match.port)) continue;
    if (match.inode !== undefined && !equals(buffer, tokens, INODE, match.inode)) continue;
    if (found) return NONE; // two listeners on the port (SO_REUSEPORT): which is ours?
    const queued = hexAfterColon(buffer, tokens[2 * QUEUES]!, tokens[2 * QUEUES + 1]!);
    if (queued < 0) return NONE;
    match.queued = queued;
    match.refs = decimal(buffer, tokens[2 * REFCOUNT]!, tokens[2 * REFCOUNT + 1]!);
    match.lineEnd = end + 1;
    found = true;
    if (match.inode !== undefined) return FOUND;
  }
}

function isState(buffer: Buffer, tokens: Int32Array, a: number, b: number): boolean {
  const start = tokens[2 * STATE]!;
  return tokens[2 * STATE + 1]! - start === 2 && buffer[start] === a && buffer[start + 1] === b;
}

function endsWith(buffer: Buffer, tokens: Int32Array, field: number, suffix: Buffer): boolean {
  const end = tokens[2 * field + 1]!;
  const start = end - suffix.length;
  if (start < tokens[2 * field]!) return false;
  for (let k = 0; k < suffix.length; k++) if (buffer[start + k] !== suffix[k]) return false;
  return true;
}

function equals(buffer: Buffer, tokens: Int32Array, field: number, value: Buffer): boolean {
  const start = tokens[2 * field]!;
  if (tokens[2 * field + 1]! - start !== value.length) return false;
  for (let k = 0; k < value.length; k++) if (buffer[start + k] !== value[k]) return false;
  return true;
}

/** The hex number after the ':' in "tx_queue:rx_queue"; -1 if malformed. */
function hexAfterColon(buffer: Buffer, start: number, end: number): number {
  let k = start;
  while (k < end && buffer[k] !== 0x3a) k++;
  if (++k >= end) return -1;
  let value = 0;
  for (; k < end; k++) {
    const c = buffer[k]!;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** A decimal number; -1 if the field is not one. */
function decimal(buffer: Buffer, start: number, end: number): number {
  if (end <= start) return -1;
  let value = 0;
  for (let k = start; k < end; k++) {
    const c = buffer[k]!;
    if (c < 0x30 || c > 0x39) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/** Closes a /proc file this module or accept-queue-plug.ts opened; -1 or already closed: nothing. */
export function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // Already gone.
  }
}
