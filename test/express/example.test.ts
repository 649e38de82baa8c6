import { it } from 'vitest';
import { exampleScenario } from './example-scenario.js';

it('examples/express: npm start serves every route, the admin API drains by id, SIGTERM drains the rest', async () => {
  await exampleScenario('express');
}, 30_000);
