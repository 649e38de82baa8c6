import http2 from 'node:http2';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, Child } from './child.js';

// A shutdown must reach its report and onShutdown hooks even when nothing but
// its own timer keeps the process alive. After the first GOAWAY on an HTTP/2
// session with no stream open, Node stops reading its socket (http2-drain.ts):
// that socket holds no ref'd handle, the listener is closed, so with an unref'd
// drain timer the process exited mid-shutdown, exit code 0, hooks never run
// (TLS and h2c alike; seen with clients leaving during the shutdown, 22 and 28
// of 40 probe runs on Node 26 and 20).

const children: Child[] = [];
const sessions: http2.ClientHttp2Session[] = [];
afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  await Promise.all(children.splice(0).map((child) => child.stop()));
});
beforeAll(assertBuilt);

describe('HTTP/2 shutdown in a process nothing else keeps alive', () => {
  it('SIGTERM with an idle session open: the session gets its GOAWAY, the hooks run, the process exits clean', async () => {
    const child = new Child('h2-idle-shutdown.mjs');
    children.push(child);
    const { port } = (await child.event('listening')) as unknown as { port: number };
    const session = http2.connect(`http://127.0.0.1:${port}`);
    sessions.push(session);
    session.on('error', () => {});
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
      stream.end();
    });
    expect(body).toBe('ok');
    const signalledAt = Date.now();
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(4_000); // timeoutMs is 5 s: nothing was held to it
    expect(child.messages.some((m) => m.event === 'hook')).toBe(true);
    expect(child.messages.find((m) => m.event === 'done')).toMatchObject({ exitCode: 0, clean: true, total: 1, forced: 0 });
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await closed;
  });
});
