/** A real HTTP receiver on 127.0.0.1 for callback tests: scripted answers, recorded requests. */
import http from 'node:http';
import { listenLocal } from '@tiergate/testing';

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
  const { origin, close } = await listenLocal(server);
  return { url: origin, received, close };
}
