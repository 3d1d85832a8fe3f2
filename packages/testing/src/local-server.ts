/**
 * A Node HTTP server on a free loopback port, for tests that need a real
 * server (the app under test, a webhook receiver, a chat webhook).
 */
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

/** A listening server and how to stop it. */
export interface LocalServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  /** Drops open keep-alive connections, then closes the server: resolves without waiting for clients to hang up. */
  close(): Promise<void>;
}

/**
 * Starts `server` on 127.0.0.1 at a port the system picks.
 *
 * @example
 * const { origin, close } = await listenLocal(http.createServer(app));
 * onTestFinished(close);
 */
export async function listenLocal(server: Server): Promise<LocalServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on (taken from the system,
 * then released): for "connection refused" tests.
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
