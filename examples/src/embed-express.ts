/**
 * Embedding tiergate into an existing Express app. The app keeps its own
 * routes (`/health`, `/v1/messages`, `/billing`) and its own user table (API
 * key hashes and a `plan` column, in `embed-app.ts`, shared with the other
 * two frameworks); tiergate is mounted under `/agent`, reads accounts from
 * that table, and guards the app's own send route.
 *
 * ```sh
 * PORT=3000 npx tsx examples/src/embed-express.ts
 * curl -X POST -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" -H "Content-Type: application/json" \
 *   -d '{"to":"a@example.com","subject":"Hi","text":"Hello"}' http://127.0.0.1:3000/v1/messages   # 403 SEND_REQUIRES_PAID
 * curl -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" http://127.0.0.1:3000/agent/v1/capabilities
 * ```
 */
import http from 'node:http';
import express from 'express';
import { requireCapability, tiergateRouter } from '@tiergate/express';
import { DEMO_KEYS, createAppTiergate, findUserByApiKey, listen, runAsScript, type EmbeddedApp } from './embed-app.js';

export { DEMO_KEYS, type EmbeddedApp };

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

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json()); // the app's own body parser; tiergate accepts what it already parsed

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/billing', (req, res) => {
    res.type('text/plain').send(`Checkout for the ${String(req.query['plan'] ?? 'starter')} plan`);
  });

  // The app's own route, with the app's own auth (no tiergate involved).
  app.get('/v1/messages', (req, res) => {
    const user = findUserByApiKey((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (user === undefined) {
      res.status(401).json({ error: 'unauthorized' });
      return;
    }
    res.json({ messages: messages.filter((m) => m.userId === user.id) });
  });

  // The app's send route, guarded by tiergate: plan and daily/monthly quota checked, one unit taken atomically.
  app.post('/v1/messages', requireCapability(tiergate, 'send_messages', { consume: 1 }), async (req, res) => {
    const body = req.body as { to?: unknown; subject?: unknown; text?: unknown } | undefined;
    if (typeof body?.to !== 'string' || typeof body.subject !== 'string' || typeof body.text !== 'string') {
      await req.tiergate?.refund(); // nothing was sent: give the unit back
      res.status(400).json({ error: 'to, subject and text are required' });
      return;
    }
    const message = { id: `msg_${messages.length + 1}`, userId: req.tiergate?.account.id ?? '', to: body.to, subject: body.subject, text: body.text };
    messages.push(message);
    res.status(201).json({ id: message.id, status: 'queued' });
  });

  app.use('/agent', tiergateRouter(tiergate));

  const server = http.createServer(app);
  return listen(server, port, tiergate, (origin) => {
    base = origin;
  });
}

await runAsScript(import.meta.url, start);
