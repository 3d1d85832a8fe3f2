/**
 * An `AbortSignal` for a Node response, for adapters on `node:http`-based
 * frameworks: it aborts when the client goes away before the response has
 * been written, so a `?wait=` long poll stops holding the request.
 */

/** The part of a Node `ServerResponse` the signal watches. */
export interface ClosableResponse {
  once(event: 'close', listener: () => void): unknown;
  readonly writableFinished: boolean;
}

/** Aborts when `res` closes before it finished (the client disconnected). */
export function disconnectSignal(res: ClosableResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
