import express from 'express';
import { expressKind } from '../express/express-kind.js';

// Express 5, wired with attach(app).
export default expressKind('express 5 (attach)', express, 'attach');
