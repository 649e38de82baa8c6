import { expect, it } from 'vitest';
import { exampleScenario } from '../express/example-scenario.js';

it('examples/fastify: npm start serves every route, the admin API drains by id, SIGTERM drains the rest and runs app.close()', async () => {
  const output = await exampleScenario('fastify');
  // handleSignals: true closes the app after the drain, so Fastify's onClose hooks run before the exit.
  expect(output).toMatch(/shutdown: cleanup-done[^\n]*\n(?:[^\n]*\n)*app closed/);
}, 30_000);
