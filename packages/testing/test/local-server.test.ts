import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { closedPort, listenLocal } from '@tiergate/testing';

describe('listenLocal', () => {
  it('serves on a loopback port and closes even with a keep-alive connection open', async () => {
    const local = await listenLocal(http.createServer((_req, res) => res.end('ok')));
    expect(local.origin).toBe(`http://127.0.0.1:${local.port}`);
    const agent = new http.Agent({ keepAlive: true });
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`${local.origin}/`, { agent }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('ok');
    await local.close(); // would wait for the idle keep-alive socket without closeAllConnections
    agent.destroy();
    await expect(fetch(`${local.origin}/`)).rejects.toThrow();
  });
});

describe('closedPort', () => {
  it('is a port where a connection is refused', async () => {
    const port = await closedPort();
    const code = await new Promise<string | undefined>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    });
    expect(code).toBe('ECONNREFUSED');
  });
});
