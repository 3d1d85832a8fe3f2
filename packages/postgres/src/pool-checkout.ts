/**
 * Taking a connection out of the host's pool without ever leaving it
 * unguarded. A checked-out `pg` client whose server connection dies emits
 * `'error'`; with no listener that crashes the process. The pool removes its
 * own listener on checkout, and a promise continuation runs too late (the
 * error can arrive in the same network read that completed the checkout), so
 * the listener is attached inside the pool's callback.
 */
import type { Pool, PoolClient } from 'pg';

/** A checked-out connection. */
export interface Checkout {
  readonly client: PoolClient;
  /** The first connection error seen while checked out, if any. */
  failure(): Error | undefined;
  /** Gives the connection back; with an error (given or seen) the pool destroys it. Safe to call twice. */
  release(err?: Error): void;
}

/** Checks a connection out of `pool`; `onError` hears connection errors while it is out. */
export function checkout(pool: Pool, onError: (err: Error) => void = () => undefined): Promise<Checkout> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client, done) => {
      if (err !== undefined && err !== null) {
        reject(err);
        return;
      }
      const owned = client as PoolClient;
      let failure: Error | undefined;
      let released = false;
      const listener = (error: Error): void => {
        failure ??= error;
        onError(error);
      };
      owned.on('error', listener);
      resolve({
        client: owned,
        failure: () => failure,
        release(error) {
          if (released) return;
          released = true;
          owned.removeListener('error', listener);
          done(error ?? failure);
        },
      });
    });
  });
}
