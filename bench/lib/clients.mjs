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

/**
 * `count` requests over `connections` keep-alive connections, each sending its
 * next request once the previous response is complete (no pipelining), so the
 * server sees the same sequence of reads and writes in every run.
 */
async function sequentialRequests(port, count, connections) {
  let left = count;
  let served = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      socket.setEncoding('latin1');
      let buffer = '';
      const next = () => {
        if (left === 0) {
          socket.end();
          return;
        }
        left--;
        socket.write(REQUEST);
      };
      socket.on('connect', next);
      socket.on('data', (chunk) => {
        buffer += chunk;
        for (;;) {
          const headEnd = buffer.indexOf('\r\n\r\n');
          if (headEnd < 0) return;
          const length = /\r\ncontent-length: *(\d+)/i.exec(buffer.slice(0, headEnd));
          if (!length || !buffer.startsWith('HTTP/1.1 200')) return reject(new Error(`unexpected response: ${buffer.slice(0, 200)}`));
          const end = headEnd + 4 + Number(length[1]);
          if (buffer.length < end) return;
          buffer = buffer.slice(end);
          served++;
          next();
        }
      });
      socket.on('error', reject);
      socket.on('close', resolve);
    });
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(connections, count) }, one));
  if (served !== count) throw new Error(`served ${served} of ${count} requests`);
  return { served, ms: performance.now() - started };
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
    case 'requests': {
      try {
        reply(await sequentialRequests(message.port, message.count, message.connections ?? 1));
      } catch (error) {
        reply({ error: String(error?.stack ?? error) });
      }
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
