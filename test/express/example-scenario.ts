import http from 'node:http';
import { expect } from 'vitest';
import { RawClient, get, request } from '../helpers/net.js';
import { startExample } from './example-process.js';

/**
 * The same scenario against examples/express, examples/koa and examples/fastify: every route,
 * the guarded admin API (a drain by id), then SIGTERM while a request is in flight.
 */
export async function exampleScenario(name: 'express' | 'koa' | 'fastify'): Promise<string> {
  const example = await startExample(name, { ADMIN_PASSWORD: 'example-pw' });
  const auth = { authorization: `Basic ${Buffer.from('admin:example-pw').toString('base64')}` };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const slowAgent = new http.Agent({ keepAlive: true });
  const sse = await RawClient.connect(example.port);
  const { port } = example;
  try {
    expect(await request(agent, port, '/ready')).toMatchObject({ status: 200, body: '{"ready":true,"state":"serving"}' });
    const anonymous = await request(agent, port, '/admin/stats');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="drainkit"');
    const page = await request(agent, port, '/admin', { headers: auth });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');

    const bye = await request(agent, port, '/bye');
    expect(bye.body).toMatch(/^bye from connection \d+-\d+$/);
    expect(bye.headers.connection).toBe('close');

    // An SSE stream, drained by id through the admin API: it says goodbye and ends cleanly.
    sse.write(get('/events', 'Accept: text/event-stream\r\n'));
    await sse.waitFor((data) => data.includes('data: {"tick":0}'), 'the first tick');
    const listed = JSON.parse((await request(agent, port, '/admin/connections', { headers: auth })).body) as {
      connections: Array<{ id: string; remotePort: number; inFlight: number }>;
    };
    const stream = listed.connections.find((c) => c.remotePort === sse.socket.localPort);
    expect(stream).toMatchObject({ inFlight: 1 });
    const drain = await request(agent, port, `/admin/connections/${stream!.id}/drain`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(drain.status).toBe(202);
    await sse.waitForEnd();
    expect(sse.data).toContain('event: drain\nretry: 1000\ndata: server is draining, reconnect\n\n');
    expect(sse.error).toBeUndefined();

    // SIGTERM with a slow request in flight: it finishes, with Connection: close.
    const slow = request(slowAgent, port, '/slow?ms=400');
    // No event crosses the process boundary: poll the admin API until the slow request is in flight.
    let inFlight = 0;
    for (let polls = 0; polls < 200 && inFlight < 2; polls++) {
      const stats = JSON.parse((await request(agent, port, '/admin/stats', { headers: auth })).body) as { inFlight: number };
      inFlight = stats.inFlight;
    }
    expect(inFlight).toBe(2); // the slow request and this stats request
    process.kill(example.pid, 'SIGTERM');
    const done = await slow;
    expect(done).toMatchObject({ status: 200, body: 'slow done after 400 ms' });
    expect(done.headers.connection).toBe('close');
    expect(await example.exited).toBe(0);
    expect(example.output()).toMatch(/shutdown: readiness-failed/);
    expect(example.output()).toMatch(/shutdown: cleanup-done \(\d+ closed, 0 forced\)/);
    return example.output();
  } finally {
    agent.destroy();
    slowAgent.destroy();
    sse.destroy();
    await example.kill();
  }
}
