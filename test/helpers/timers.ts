import { vi } from 'vitest';

/**
 * The timers alive at any moment among those made through the global
 * `setTimeout` from now on (drainkit makes all of its own that way; unref'd
 * ones included, which `process.getActiveResourcesInfo()` does not list), and
 * the most alive at once. `restore()` puts the real functions back.
 */
export function countTimers(): { live: Set<NodeJS.Timeout>; readonly peak: number; restore(): void } {
  const live = new Set<NodeJS.Timeout>();
  let peak = 0;
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const setSpy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer: NodeJS.Timeout = realSet(() => {
      live.delete(timer);
      fn(...args);
    }, ms);
    live.add(timer);
    peak = Math.max(peak, live.size);
    return timer;
  }) as typeof setTimeout);
  const clearSpy = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((timer: NodeJS.Timeout) => {
    live.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout);
  return {
    live,
    get peak() {
      return peak;
    },
    restore() {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    },
  };
}
