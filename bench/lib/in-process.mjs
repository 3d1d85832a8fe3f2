// What the in-process benchmarks share (bench/kernel-in-process.mjs, bench/kept-bytes.mjs): the
// notify-operator body of part 2 and a tiergate service on memoryStore() with 64 API-key accounts of one tier.
import { apiKeyAuthenticator, createTiergate, defaultTiers, memoryStore } from '@tiergate/core';

/** The notify-operator body (part 2's, and the bare POST's, so both parse the same bytes). */
export const NOTIFY_BODY = JSON.stringify({
  issue: 'I need to send a receipt to a customer, but this account is on the free tier.',
  action_label: 'Upgrade to send',
  context: { customer_id: 'cus_123', attempted_action: 'send_messages', recipients: 1, reason: 'SEND_REQUIRES_PAID' },
});

/** Where the in-process service says it lives (its links point there). */
export const PUBLIC_URL = 'http://127.0.0.1:3000';

/**
 * 64 accounts of `tier` (keys `bench-<tier>-<i>-…`, ids `acc_<i>`) and a tiergate service over them on a
 * fresh memoryStore(), notify-operator's rate limit raised out of the way and logging off.
 */
export function inProcessTiergate({ tier = 'free', tiers = defaultTiers } = {}) {
  const entries = [];
  for (let i = 0; i < 64; i++) entries.push({ apiKey: `bench-${tier}-${i}-4f9a1c2e8b7d6a5f`, account: { id: `acc_${i}`, tier, operatorEmail: 'a@example.com' } });
  const byId = new Map(entries.map((e) => [e.account.id, e.account]));
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator(entries),
    findAccount: (id) => byId.get(id) ?? null,
    secret: 'bench-link-secret-0123456789abcdef-0123456789',
    publicUrl: PUBLIC_URL,
    store: memoryStore(),
    tiers,
    notifyRateLimit: { points: 1e9, durationSeconds: 3600 },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  return { entries, tiergate };
}
