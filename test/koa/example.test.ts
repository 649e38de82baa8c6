import { it } from 'vitest';
import { exampleScenario } from '../express/example-scenario.js';

it('examples/koa: npm start serves every route, the admin API drains by id, SIGTERM drains the rest', async () => {
  await exampleScenario('koa');
}, 30_000);
