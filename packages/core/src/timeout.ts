/**
 * Resolves true when `promise` settles in time, false at the timeout (one timer).
 * The timer is unref'd unless `ref`: a timeout that must fire before the
 * process may exit (an onShutdown hook's, while a shutdown is in progress)
 * keeps the process alive, or a hook that never settles would let it exit
 * at once with nothing reported.
 */
export function withTimeout(promise: Promise<unknown>, ms: number, ref = false): Promise<boolean> {
  if (ms <= 0) return Promise.race([promise.then(() => true), Promise.resolve(false)]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), ms);
    if (!ref) timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
