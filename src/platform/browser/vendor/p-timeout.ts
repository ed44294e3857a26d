/**
 * Stands in for `p-timeout` in the browser bundles (rollup.config.mjs aliases it): p-queue only
 * uses it for its `timeout` option, which this SDK does not set (requests have their own timer).
 * Saves about 0.4 KB gzipped.
 */
export class TimeoutError extends Error {}

export default function pTimeout<T>(promise: Promise<T>, options: { milliseconds: number }): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`timed out after ${options.milliseconds} ms`)), options.milliseconds);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
