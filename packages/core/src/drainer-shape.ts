/**
 * Whether `value` has a Drainer's methods (duck-typed, so an ESM and a CJS
 * copy of core both pass). Kept free of imports: option parsing uses it to
 * name "a drainer where options were expected", below drainer.ts.
 */
export function looksLikeDrainer(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return ['isReady', 'connections', 'drainConnection', 'drain', 'shutdown', 'signalFor', 'connectionOf'].every(
    (method) => typeof candidate[method] === 'function',
  );
}
