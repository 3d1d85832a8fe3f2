/**
 * Embedding tiergate into an existing Koa app. The app keeps its own
 * routes (`/health`, `/v1/messages`, `/billing`) and its own user table (API
 * key hashes and a `plan` column, in `embed-app.ts`, shared with the other
 * two frameworks); tiergate is mounted under `/agent`, reads accounts from
 * that table, and guards the app's own send route.
 *
 * ```sh
 * PORT=3000 npx tsx examples/src/embed-koa.ts
 * curl -X POST -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" -H "Content-Type: application/json" \
 *   -d '{"to":"a@example.com","subject":"Hi","text":"Hello"}' http://127.0.0.1:3000/v1/messages   # 403 SEND_REQUIRES_PAID
 * curl -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" http://127.0.0.1:3000/agent/v1/capabilities
 * ```
 */
import http from 'node:http';
import Koa from 'koa';
import { requireCapability, tiergateMiddleware } from '@tiergate/koa';
import { DEMO_KEYS, createAppTiergate, findUserByApiKey, listen, runAsScript, type EmbeddedApp } from './embed-app.js';

export { DEMO_KEYS, type EmbeddedApp };

/** The app's own JSON body reading (a body-parser middleware would do this); `undefined` if not JSON. */
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > 64 * 1024) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Starts the app on `port` (0 = any) with tiergate under `/agent`. Operator
 * links point at `PUBLIC_URL` + `/agent` when that variable is set, else at
 * the listen URL.
 */
export async function start(port = 3000): Promise<EmbeddedApp> {
  /** The app's own messages table. */
  const messages: { id: string; userId: string; to: string; subject: string; text: string }[] = [];
  let base = '';
  const tiergate = createAppTiergate(() => base);

  const app = new Koa();
  const guardSend = requireCapability(tiergate, 'send_messages', { consume: 1 });

  // tiergate answers everything under /agent and passes every other path on.
  app.use(tiergateMiddleware(tiergate, { prefix: '/agent' }));

  // The app's own routes (a router would do the same; Koa has none built in).
  app.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/health') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.method === 'GET' && ctx.path === '/billing') {
      ctx.type = 'text/plain';
      ctx.body = `Checkout for the ${typeof ctx.query['plan'] === 'string' ? ctx.query['plan'] : 'starter'} plan`;
      return;
    }
    if (ctx.method === 'GET' && ctx.path === '/v1/messages') {
      // The app's own auth (no tiergate involved).
      const user = findUserByApiKey((ctx.get('authorization') ?? '').replace(/^Bearer /i, ''));
      if (user === undefined) {
        ctx.status = 401;
        ctx.body = { error: 'unauthorized' };
        return;
      }
      ctx.body = { messages: messages.filter((m) => m.userId === user.id) };
      return;
    }
    if (ctx.method === 'POST' && ctx.path === '/v1/messages') {
      // Guarded by tiergate: plan and daily/monthly quota checked, one unit taken atomically.
      await guardSend(ctx, async () => {
        const body = (await readJson(ctx.req)) as { to?: unknown; subject?: unknown; text?: unknown } | undefined;
        if (typeof body?.to !== 'string' || typeof body.subject !== 'string' || typeof body.text !== 'string') {
          await ctx.state.tiergate?.refund(); // nothing was sent: give the unit back
          ctx.status = 400;
          ctx.body = { error: 'to, subject and text are required' };
          return;
        }
        const message = { id: `msg_${messages.length + 1}`, userId: ctx.state.tiergate?.account.id ?? '', to: body.to, subject: body.subject, text: body.text };
        messages.push(message);
        ctx.status = 201;
        ctx.body = { id: message.id, status: 'queued' };
      });
      return;
    }
    await next();
  });

  const server = http.createServer(app.callback());
  return listen(server, port, tiergate, (origin) => {
    base = origin;
  });
}

await runAsScript(import.meta.url, start);
