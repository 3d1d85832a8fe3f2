/** A real HTTP receiver on 127.0.0.1 for callback tests: scripted answers, recorded requests. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export async function startReceiver(script: (req: Received, index: number) => Answer = () => ({ status: 200 })) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const entry = { path: req.url ?? '', headers: req.headers, body };
      received.push(entry);
      const answer = script(entry, received.length - 1);
      if (answer === 'hang') return;
      res.writeHead(answer.status, answer.headers).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
