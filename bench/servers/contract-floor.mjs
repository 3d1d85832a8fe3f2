// The floors of POST /v1/notify-operator (part 2 and part 4) and GET /v1/capabilities (part 2): what
// any implementation of the wire contract must do, written directly on node:crypto, zod and
// rate-limiter-flexible with none of tiergate's code. Used by the bench server
// (bench/servers/http-server.mjs) and, in process, by bench/kernel-in-process.mjs (modes notify-floor,
// notify-floor-fastify, notify-floor-headers-fastify).
import { hash } from 'node:crypto';

const NOTIFY_NEXT_STEPS = [
  'Share operator_action_url with your operator via Slack, email, or UI',
  'Use agent_script as a ready-made message template',
  'Link is valid for 7 days',
  'Operator can view issue details and take action without logging in',
];

/**
 * The account of an `Authorization: Bearer <key>` header, or undefined. API keys are kept as SHA-256
 * digests, as apiKeyAuthenticator keeps them (a key is never compared as plain text).
 */
function keyLookup(entries) {
  const accountsByDigest = new Map(entries.map((e) => [hash('sha256', e.apiKey, 'hex'), e.account]));
  return (authorization) =>
    typeof authorization === 'string' && authorization.startsWith('Bearer ') ? accountsByDigest.get(hash('sha256', authorization.slice(7), 'hex')) : undefined;
}

/**
 * The floor of GET /v1/capabilities: find the account by its API key's SHA-256, read its usage (a Map
 * of counters by account, as a host would keep them) and answer what was computed once for that
 * account and usage (`answerOf(account, usedUp)`: the exact bytes tiergate answers, since its answer
 * depends on nothing else per request and its links are reused). Returns the body, or undefined for an
 * unknown key.
 */
export function capabilitiesFloor(entries, answerOf) {
  const accountOf = keyLookup(entries);
  // Counters by account id, as a host's quota consumer would keep them. Empty in the bench: nothing there
  // consumes the capabilities accounts' quota, so tiergate's own read of their counters misses too.
  const usage = new Map();
  return (authorization) => {
    const account = accountOf(authorization);
    if (account === undefined) return undefined;
    const used = usage.get(account.id);
    return answerOf(account, used !== undefined && used.exhausted);
  };
}

/**
 * The floor of notify-operator on a store: the bare POST plus what the wire contract and DESIGN
 * require of any implementation, written directly on node:crypto, zod, rate-limiter-flexible (the
 * store's limiter, on the store's backend) and the store's own client, with none of tiergate's code:
 * find the account by its API key's SHA-256, validate the body (zod), take one rate-limit point, seal
 * the context (AES-256-GCM, DESIGN security rule 5), sign one operator link (an HS256 JWT with the
 * claims rule 3 pins), keep the record with one write (`keep`: a Map in memory, an INSERT, a SET) and
 * answer the same fields (the same size).
 */
export async function contractFloor(store, publicUrl, entries, keep) {
  const { z } = await import('zod');
  const { createCipheriv, createHmac, createSecretKey, randomFillSync } = await import('node:crypto');
  // Random bytes drawn from a 4 KiB pool refilled by one call, as tiergate draws its own: one
  // randomBytes() call costs ~1.7 µs here, and a request needs three (the id, the link id, the nonce).
  const pool = Buffer.allocUnsafe(4096);
  let poolAt = pool.length;
  const random = (bytes) => {
    if (poolAt + bytes > pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    poolAt += bytes;
    return pool.subarray(poolAt - bytes, poolAt);
  };
  const accountOf = keyLookup(entries);
  const schema = z.object({ issue: z.string().min(1).max(2000), action_label: z.string().max(80).optional(), context: z.record(z.string(), z.unknown()).optional() });
  const limiter = store.rateLimiter({ keyPrefix: 'bench-floor', points: 1_000_000_000, durationSeconds: 3600 });
  const linkKey = createSecretKey(Buffer.alloc(32, 7));
  const contextKey = createSecretKey(Buffer.alloc(32, 9));
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const jwtHeader = b64({ alg: 'HS256', kid: 'k1', typ: 'tiergate-operator+jwt' });
  let n = 0;
  return async (authorization, body) => {
    const account = accountOf(authorization);
    if (account === undefined) throw new Error('bench floor: unknown key');
    const input = schema.parse(body);
    const outcome = await limiter.consume(account.id);
    if (!outcome.allowed) throw new Error('bench floor: rate limited');
    n += 1;
    const id = `not_${process.pid}_${n}_${random(8).toString('base64url')}`;
    const now = Date.now();
    const iv = Buffer.from(random(12));
    const cipher = createCipheriv('aes-256-gcm', contextKey, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(id));
    const sealed = `${iv.toString('base64url')}.${Buffer.concat([cipher.update(JSON.stringify(input.context ?? null)), cipher.final()]).toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    const claims = `${jwtHeader}.${b64({ iss: publicUrl(), aud: 'tiergate:operator_action', sub: account.id, jti: `lnk_${random(12).toString('base64url')}`, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 604800, nid: id })}`;
    const url = `${publicUrl()}/operator/action?token=${claims}.${createHmac('sha256', linkKey).update(claims).digest('base64url')}`;
    const expiresAt = now + 604_800_000;
    await keep(id, { id, accountId: account.id, issue: input.issue, actionLabel: input.action_label ?? null, sealedContext: sealed, createdAt: now, expiresAt });
    return {
      result: {
        operator_action_url: url,
        operator_action_label: input.action_label ?? 'Open',
        agent_script: `Tell your operator: ${input.issue} Here's a direct action link: ${url}`,
        notification_id: id,
        expires_at: new Date(expiresAt).toISOString(),
      },
      // The seed's wording (notify-operator), so the answer has the same size.
      next_steps: NOTIFY_NEXT_STEPS,
    };
  };
}

/**
 * Reads a JSON body the way a Koa body parser does (events, no async iterator): how the Koa floors get
 * theirs, in the bench server and in process.
 */
export function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}
