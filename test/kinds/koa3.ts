import Koa from 'koa';
import { koaKind } from '../koa/koa-kind.js';

// Koa 3, wired with attach(app).
export default koaKind('koa 3 (attach)', Koa, 'attach');
