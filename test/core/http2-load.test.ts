import http2 from 'node:http2';
import { afterEach, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import type { DrainResult } from '@drainkit/core';
import { closeHttp2Sessions, connectH2, h2Request } from '../helpers/h2.js';
import type { StreamOutcome } from '../helpers/h2.js';
import { closeServer, listen } from '../helpers/net.js';

const STREAMS = 100;
const CHUNKS = 8;
const CHUNK = 'x'.repeat(512);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function expectedBody(path: string): string {
  return `${path}:${CHUNK.repeat(CHUNKS)}`;
}

it('drains an h2 session under 100 concurrent streams: every accepted stream completes, every other one is refused cleanly', async () => {
  let handled = 0;
  let drain: Promise<DrainResult> | undefined;
  let inFlightAtDrain = 0;
  const server = http2.createServer((req, res) => {
    handled++;
    // The drain starts while about a third of the streams are open mid-body.
    if (handled === 30) {
      const connection = drainer.connectionOf(req)!;
      inFlightAtDrain = connection.inFlight;
      drain = drainer.drainConnection(connection.id, { timeoutMs: 10_000 });
    }
    // The body goes out in chunks over several milliseconds, so streams are mid-body when the GOAWAY goes out.
    res.write(`${req.url}:`);
    let sent = 0;
    const next = (): void => {
      if (res.destroyed) return;
      res.write(CHUNK);
      if (++sent === CHUNKS) res.end();
      else setTimeout(next, 1);
    };
    setTimeout(next, 1);
  });
  const drainer = createDrainer(server);
  const sessions = closeHttp2Sessions(server);
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    sessions.destroyAll();
    await closeServer(server);
  });

  const client = await connectH2(port, false);
  cleanups.push(() => client.session.destroy());
  // Streams are opened a few at a time across turns, so some go out before the GOAWAY arrives and some after.
  const outcomes: Array<Promise<StreamOutcome>> = [];
  for (let i = 0; i < STREAMS; i++) {
    outcomes.push(h2Request(client.session, `/load/${i}`));
    if (i % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
  }
  const results = await Promise.all(outcomes);
  expect(drain).toBeDefined();
  const result = await drain!;
  await client.closed;

  const served = results.filter((r) => r.ended && r.status === 200);
  const refused = results.filter((r) => !(r.ended && r.status === 200));
  for (const r of served) expect(r.body).toBe(expectedBody(r.path));
  for (const r of refused) {
    // Refused before any response bytes: REFUSED_STREAM for a stream above the final GOAWAY's
    // last stream id (it was on the wire), ERR_HTTP2_GOAWAY_SESSION if opened after the first GOAWAY.
    expect(r).toMatchObject({ status: 0, bytes: 0 });
    // ERR_HTTP2_INVALID_SESSION: opened after the session had closed, so it never left the client.
    const refusedCleanly =
      r.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM || r.errorCode === 'ERR_HTTP2_GOAWAY_SESSION' || r.errorCode === 'ERR_HTTP2_INVALID_SESSION';
    expect(refusedCleanly, JSON.stringify(r)).toBe(true);
  }
  // Everything the application started finished; nothing reached it that was not served.
  expect(served.length).toBe(handled);
  expect(served.length).toBeGreaterThanOrEqual(30);
  expect(refused.length).toBeGreaterThan(0);
  expect(inFlightAtDrain).toBeGreaterThan(1);
  expect(result).toMatchObject({ forced: false, abortedRequests: 0 });
  expect(result.completedRequests).toBeGreaterThan(0);
  expect(client.errors).toEqual([]);
  expect(client.goaways[0]).toEqual([http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1]);
});
