import http from 'node:http';
import express from 'express';
import { memoryStore, type Tiergate } from '@tiergate/core';
import { requireCapability, tiergateRouter } from '@tiergate/express';
import { listenLocal, runAdapterConformance, type ConformanceServer } from '@tiergate/testing';

/** A real Express app with tiergate under `prefix` and the suite's two guarded host routes. */
async function startExpressServer(tiergate: Tiergate, { prefix }: { prefix: string }): Promise<ConformanceServer> {
  const app = express();
  app.post('/host/send', requireCapability(tiergate, 'send_messages', { consume: 1 }), (req, res) => {
    res.json({ account: req.tiergate?.account.id, consumed: req.tiergate?.consumed });
  });
  app.get('/host/inboxes', requireCapability(tiergate, 'create_inboxes'), async (req, res) => {
    const context = req.tiergate;
    if (context === undefined) throw new Error('the guard did not set req.tiergate');
    res.json({ account: context.account.id, can_send: (await context.ability()).can('send_messages'), tier: (await context.capabilities()).tier });
  });
  app.use(prefix, tiergateRouter(tiergate));
  const server = http.createServer(app);
  const { origin, close } = await listenLocal(server);
  return { url: origin, close };
}

runAdapterConformance('express', startExpressServer);
// Again with the memory store's methods on another object, which the service reaches through their promises as it
// does PostgreSQL's and Redis's: the adapter's paths that wait (the memory store itself answers most requests at once).
runAdapterConformance('express, a store answering through promises', startExpressServer, {
  makeStore: async () => ({ store: { ...memoryStore() }, cleanup: async () => undefined }),
});
