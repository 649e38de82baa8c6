import type { ServerKind } from '../helpers/server-kinds.js';
import { nestKind } from '../nestjs/nest-kind.js';

const kind: ServerKind = nestKind('express');
export default kind;
