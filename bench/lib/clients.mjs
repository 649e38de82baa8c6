// A client process holding many idle keep-alive HTTP/1.1 connections (raw sockets,
// one request each), recording when each one sees the server close it.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const wallNow = () => performance.timeOrigin + performance.now();
const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

const sockets = new Set();
let closedCount = 0;
let resets = 0;
let lastSeenCloseAt = 0;
let closeWaiter;

/** Opens one connection and completes one request on it; resolves once the response is in. */
function openOne(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    let answered = false;
    let seen = false;
    const sawClose = (reset) => {
      if (seen) return;
      seen = true;
      if (reset) resets++;
      const at = wallNow();
      if (at > lastSeenCloseAt) lastSeenCloseAt = at;
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk) => {
      data += chunk;
      if (!answered && data.includes('\r\n\r\n') && data.endsWith('ok')) {
        answered = true;
        resolve();
      }
    });
    // allowHalfOpen is false: on the server's FIN the socket ends its side too, as HTTP clients do.
    socket.on('end', () => sawClose(false));
    socket.on('error', (error) => {
      sawClose(true);
      if (!answered) reject(error);
    });
    socket.on('close', () => {
      sawClose(false);
      sockets.delete(socket);
      if (answered) closedCount++;
      else reject(new Error('closed before the response'));
      if (sockets.size === 0 && closeWaiter) closeWaiter();
    });
    sockets.add(socket);
  });
}

async function openMany(port, count, concurrency) {
  let next = 0;
  let failed = 0;
  let firstError;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        await openOne(port);
      } catch (error) {
        failed++;
        firstError ??= String(error?.message ?? error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { opened: count - failed, failed, firstError };
}

process.on('message', async (message) => {
  const reply = (payload) => process.send({ id: message.id, ...payload });
  switch (message.cmd) {
    case 'open': {
      const started = performance.now();
      const outcome = await openMany(message.port, message.count, message.concurrency ?? 200);
      reply({ ...outcome, open: sockets.size, ms: performance.now() - started });
      break;
    }
    case 'wait-all-closed': {
      if (sockets.size > 0) await new Promise((resolve) => (closeWaiter = resolve));
      reply({ lastSeenCloseAt, closedCount, resets });
      break;
    }
    case 'exit':
      for (const socket of sockets) socket.destroy();
      reply({});
      process.exit(0);
  }
});
// If the runner dies, do not linger holding thousands of sockets.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
