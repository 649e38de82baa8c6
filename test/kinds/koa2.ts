import Koa2 from 'koa2';
import { koaKind } from '../koa/koa-kind.js';

// Koa 2 (npm alias koa2), wired with createDrainer(server) + drainMiddleware.
export default koaKind('koa 2 (middleware)', Koa2, 'middleware');
