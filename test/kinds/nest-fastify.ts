import type { ServerKind } from '../helpers/server-kinds.js';
import { nestKind } from '../nestjs/nest-kind.js';

const kind: ServerKind = nestKind('fastify');
export default kind;
