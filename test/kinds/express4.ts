import express4 from 'express4';
import { expressKind } from '../express/express-kind.js';

// Express 4 (npm alias express4), wired with createDrainer(server) + drainMiddleware.
export default expressKind('express 4 (middleware)', express4, 'middleware');
