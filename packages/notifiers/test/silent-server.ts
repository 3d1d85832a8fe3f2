// A TCP server on 127.0.0.1 that accepts connections and never says a word: for
// "the endpoint does not answer" tests (a stuck webhook, an SMTP server that never greets).
import net from 'node:net';

/** The listening server: its port, the connections it holds, and how to stop it (destroying them). */
export interface SilentServer {
  readonly port: number;
  readonly sockets: ReadonlySet<net.Socket>;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
