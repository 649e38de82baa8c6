import http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainer } from '@drainkit/core';
import { closeServer, listen, RawClient, until } from '../helpers/net.js';

// drainkit installs its own detachSocket on each response and calls the one the
// response's prototype chain would have run (http1-dispatch.ts detachSocketAndReport).

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const detached: string[] = [];

class CountingResponse extends http.ServerResponse {
  override detachSocket(socket: Socket): void {
    detached.push(this.req.url ?? '');
    super.detachSocket(socket);
  }
}

async function serve(options: http.ServerOptions, handler: http.RequestListener) {
  const server = http.createServer(options, handler);
  const drainer = createDrainer(server);
  const port = await listen(server);
  cleanups.push(async () => {
    drainer.dispose();
    await closeServer(server);
  });
  return { server, drainer, port };
}

const twoPipelined = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n';

describe('the response class of createServer({ ServerResponse })', () => {
  it("runs the class's own detachSocket once per response, and drainkit still sees each response finish", async () => {
    detached.length = 0;
    const { drainer, port } = await serve({ ServerResponse: CountingResponse as typeof http.ServerResponse }, (req, res) => {
      expect(res).toBeInstanceOf(CountingResponse);
      res.end(`ok ${req.url}`);
    });
    const client = await RawClient.connect(port);
    client.write(twoPipelined);
    await client.waitFor(() => client.responseCount === 2);
    await until(() => drainer.connections()[0]?.requestsServed === 2);
    expect(detached).toEqual(['/a', '/b']);
    const [conn] = drainer.connections();
    expect(conn!.state).toBe('idle');
    expect(conn!.inFlight).toBe(0);
    const report = await drainer.shutdown({ timeoutMs: 2000 });
    expect(report.forced).toBe(0);
    expect(detached).toEqual(['/a', '/b']);
  });

  it("keeps Node's lookup when the handler sets a prototype that skips the class's detachSocket (as Express does)", async () => {
    detached.length = 0;
    // Like Express's app.response: inherits from Node's ServerResponse.prototype, not from the server's class.
    const appResponse = Object.create(http.ServerResponse.prototype) as http.ServerResponse;
    const { drainer, port } = await serve({ ServerResponse: CountingResponse as typeof http.ServerResponse }, (req, res) => {
      Object.setPrototypeOf(res, appResponse);
      res.end(`ok ${req.url}`);
    });
    const client = await RawClient.connect(port);
    client.write(twoPipelined);
    await client.waitFor(() => client.responseCount === 2);
    await until(() => drainer.connections()[0]?.requestsServed === 2);
    // Without drainkit the chain goes appResponse -> ServerResponse.prototype: the class's override never runs.
    expect(detached).toEqual([]);
  });

  it("follows a detachSocket patched onto Node's ServerResponse.prototype after the drainer attached", async () => {
    const { drainer, port } = await serve({}, (req, res) => res.end(`ok ${req.url}`));
    const proto = http.ServerResponse.prototype;
    const original = proto.detachSocket;
    const seen: string[] = [];
    proto.detachSocket = function (this: http.ServerResponse, socket: Socket) {
      seen.push(this.req.url ?? '');
      original.call(this, socket);
    };
    cleanups.push(() => {
      proto.detachSocket = original;
    });
    const client = await RawClient.connect(port);
    client.write(twoPipelined);
    await client.waitFor(() => client.responseCount === 2);
    await until(() => drainer.connections()[0]?.requestsServed === 2);
    expect(seen).toEqual(['/a', '/b']);
  });
});
