import http from 'node:http';
import Koa from 'koa';
import { memoryStore, type Tiergate } from '@tiergate/core';
import { requireCapability, tiergateMiddleware } from '@tiergate/koa';
import { listenLocal, runAdapterConformance, type ConformanceServer } from '@tiergate/testing';

/** A real Koa app with tiergate under `prefix` and the suite's two guarded host routes (no router package: plain middleware). */
async function startKoaServer(tiergate: Tiergate, { prefix }: { prefix: string }): Promise<ConformanceServer> {
  const app = new Koa();
  const send = requireCapability(tiergate, 'send_messages', { consume: 1 });
  const inboxes = requireCapability(tiergate, 'create_inboxes');
  app.use(tiergateMiddleware(tiergate, { prefix }));
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/host/send') {
      return send(ctx, async () => {
        ctx.body = { account: ctx.state.tiergate?.account.id, consumed: ctx.state.tiergate?.consumed };
      });
    }
    if (ctx.method === 'GET' && ctx.path === '/host/inboxes') {
      return inboxes(ctx, async () => {
        const context = ctx.state.tiergate;
        if (context === undefined) throw new Error('the guard did not set ctx.state.tiergate');
        ctx.body = { account: context.account.id, can_send: (await context.ability()).can('send_messages'), tier: (await context.capabilities()).tier };
      });
    }
    return next();
  });
  const server = http.createServer(app.callback());
  const { origin, close } = await listenLocal(server);
  return { url: origin, close };
}

runAdapterConformance('koa', startKoaServer);
// Again with the memory store's methods on another object, which the service reaches through their promises as it
// does PostgreSQL's and Redis's: the adapter's paths that wait (the memory store itself answers most requests at once).
runAdapterConformance('koa, a store answering through promises', startKoaServer, {
  makeStore: async () => ({ store: { ...memoryStore() }, cleanup: async () => undefined }),
});
