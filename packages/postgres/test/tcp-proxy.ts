/**
 * A TCP relay to the real PostgreSQL server that a test can cut and restore,
 * to break one pool's connectivity without touching the shared server.
 */
import { connect, createServer, type Socket } from 'node:net';

/** A running relay. */
export interface TcpProxy {
  readonly port: number;
  /** Drops every open connection and refuses new ones until {@link heal}. */
  cut(): void;
  /** Relays new connections again. */
  heal(): void;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 (random port) to `host:port`. */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  const server = createServer((downstream) => {
    if (cut) {
      downstream.destroy();
      return;
    }
    const upstream = connect(port, host);
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as { port: number };
  return {
    port: listening,
    cut() {
      cut = true;
      for (const socket of open) socket.destroy();
    },
    heal() {
      cut = false;
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
