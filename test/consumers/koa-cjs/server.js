// Plain CommonJS, type-checked from its JSDoc (checkJs). No @koa/router here:
// @drainkit/koa loads without it (only adminRouter() needs it).
const Koa = require('koa');
const { attach, readiness } = require('@drainkit/koa');

const app = new Koa();
const ready = readiness();
app.use(async (ctx, next) => {
  if (ctx.path === '/ready') return ready(ctx, next);
  if (ctx.path !== '/slow') return next();
  console.log('slow started');
  await new Promise((resolve) => setTimeout(resolve, 700));
  ctx.body = `slow done on ${ctx.state.drain.connection?.id}`;
});

const { drainer, listening } = attach(app, { port: 0, host: '127.0.0.1', timeoutMs: 10_000 });
drainer.handleSignals();
listening.then(({ port }) => console.log(JSON.stringify({ port })));
