import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, RawClient, request } from '../helpers/net.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const exampleDir = `${root}examples/nestjs`;
const adminHeaders = { 'x-admin-token': 'dev-token' };

interface Started {
  port: number;
  pid: number;
}

// The example imports the built packages, as a user's application would.
const built = existsSync(`${root}packages/core/dist/esm/index.js`) && existsSync(`${root}packages/nestjs/dist/esm/index.js`);

describe('examples/nestjs (npm start, as a child process)', () => {
  let child: ChildProcess | undefined;
  let started: Started;
  let output = '';
  let exited: Promise<void>;

  beforeAll(async () => {
    if (!built) throw new Error('examples/nestjs needs the built packages: run `npm run build` first');
    child = spawn('npm', ['start'], { cwd: exampleDir, env: { ...process.env, PORT: '0', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => child!.once('exit', () => resolve()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started = await new Promise<Started>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = /^\{"listening".*\}$/m.exec(output);
        if (line) resolve(JSON.parse(line[0]) as Started);
      });
      child!.once('exit', (code) => reject(new Error(`example exited (${code}) before listening:\n${output}`)));
    });
  }, 60_000);

  afterAll(async () => {
    // Only if a test failed before the SIGTERM: stop the app (its pid) and npm (ours).
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(started.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('serves its routes, guards the admin endpoint, and drains everything on SIGTERM', async () => {
    const { port } = started;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const slowAgent = new http.Agent({ keepAlive: true });
    const sse = await RawClient.connect(port);
    try {
      const ready = await request(agent, port, '/ready');
      expect(ready).toMatchObject({ status: 200 });
      expect(ready.headers['cache-control']).toBe('no-store');
      expect((await request(agent, port, '/admin/connections')).status).toBe(403);
      const listed = await request(agent, port, '/admin/connections', { headers: adminHeaders });
      expect(listed.status).toBe(200);
      const { connections } = JSON.parse(listed.body) as { connections: Array<{ id: string; inFlight: number }> };
      expect(connections.length).toBeGreaterThanOrEqual(2); // the agent's and the SSE client's

      // DrainModule's errorFilter: a DrainError from the handler is a 404 with its code, not a 500.
      const unknown = await request(agent, port, '/admin/connections/no-such-id/drain', { method: 'POST', headers: adminHeaders });
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body)).toMatchObject({ statusCode: 404, code: 'ERR_DRAIN_UNKNOWN_CONNECTION' });

      const bye = await request(agent, port, '/bye');
      expect(bye.body).toMatch(/^bye from connection \S+$/);
      expect(bye.headers.connection).toBe('close');

      sse.write(get('/events', 'Accept: text/event-stream\r\n'));
      await sse.waitFor((data) => data.includes('data: {"tick":0}'), 'the first tick');

      const slow = request(slowAgent, port, '/slow?ms=500');
      // The slow request is in flight once three requests are: it, the SSE stream, and this listing.
      let inFlight = 0;
      for (let polls = 0; polls < 200 && inFlight < 3; polls++) {
        const res = await request(agent, port, '/admin/connections', { headers: adminHeaders });
        inFlight = (JSON.parse(res.body) as { stats: { inFlight: number } }).stats.inFlight;
      }
      expect(inFlight).toBe(3);

      process.kill(started.pid, 'SIGTERM');
      const done = await slow;
      expect(done).toMatchObject({ status: 200, body: 'slow done after 500 ms' });
      expect(done.headers.connection).toBe('close');
      await sse.waitFor((data) => /event: drain\n(id: \d+\n)?data: server is draining, reconnect\n\n/.test(data), 'the goodbye event');
      await sse.waitForEnd();
      expect(sse.error).toBeUndefined();
      await exited;
      expect(output).toMatch(/shutdown: readiness-failed/);
      expect(output).toMatch(/shutdown: cleanup-done \(\d+ closed, 0 forced\)/);
    } finally {
      agent.destroy();
      slowAgent.destroy();
      sse.destroy();
    }
  }, 30_000);
});
