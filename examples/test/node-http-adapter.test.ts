import { readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Tiergate } from '@tiergate/core';
import { listenLocal, runAdapterConformance, type ConformanceServer } from '@tiergate/testing';
import { requireCapability, tiergateRequestHandler } from '../src/node-http-adapter.js';

/** A plain node:http server with tiergate under `prefix` and the suite's two guarded host routes. */
async function startNodeServer(tiergate: Tiergate, { prefix }: { prefix: string }): Promise<ConformanceServer> {
  const handleTiergate = tiergateRequestHandler(tiergate, { prefix });
  const guardSend = requireCapability(tiergate, 'send_messages', { consume: 1 });
  const guardInboxes = requireCapability(tiergate, 'create_inboxes');
  const json = (res: http.ServerResponse, body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server = http.createServer((req, res) => {
    void (async () => {
      if (await handleTiergate(req, res)) return;
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/host/send') {
        const context = await guardSend(req, res);
        if (context !== null) json(res, { account: context.account.id, consumed: context.consumed });
        return;
      }
      if (req.method === 'GET' && path === '/host/inboxes') {
        const context = await guardInboxes(req, res);
        if (context !== null) json(res, { account: context.account.id, can_send: (await context.ability()).can('send_messages'), tier: (await context.capabilities()).tier });
        return;
      }
      res.writeHead(404).end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const { origin, close } = await listenLocal(server);
  return { url: origin, close };
}

runAdapterConformance('node:http (examples/src/node-http-adapter.ts)', startNodeServer);

describe('the node:http adapter', () => {
  it('imports nothing but node built-ins and the public API of @tiergate/core', () => {
    const source = readFileSync(new URL('../src/node-http-adapter.ts', import.meta.url), 'utf8');
    const specifiers = [...source.matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const specifier of specifiers) expect(specifier === '@tiergate/core' || specifier?.startsWith('node:')).toBe(true);
  });
});
