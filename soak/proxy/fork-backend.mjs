// Forks soak/proxy/backend.mjs with `env` (added to the parent's), collects the JSON
// lines it prints into `lines`, and resolves with the child once it says it is ready.
import { fork } from 'node:child_process';
import { once } from 'node:events';

const BACKEND = new URL('./backend.mjs', import.meta.url).pathname;

export async function forkBackend(name, env, lines) {
  const child = fork(BACKEND, [], { env: { ...process.env, NAME: name, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let buffered = '';
  child.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        // Not ours.
      }
    }
  });
  const [message] = await Promise.race([once(child, 'message'), once(child, 'exit').then(([code]) => Promise.reject(new Error(`${name} exited with ${code}`)))]);
  if (!message?.ready) throw new Error(`${name}: unexpected first message ${JSON.stringify(message)}`);
  return child;
}
