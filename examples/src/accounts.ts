/**
 * The example server's accounts: the built-in demo accounts (one per tier),
 * or a JSON file (DESIGN.md: `TIERGATE_ACCOUNTS`). The server authenticates
 * through `apiKeyAuthenticator`, which keeps only SHA-256 hashes of the keys
 * (like a real user table would); the plain keys here are printed at startup
 * so a newcomer can use them.
 */
import fs from 'node:fs';
import { z } from 'zod';
import type { Account, TierTable } from '@tiergate/core';

/** One entry of the accounts file (snake_case, as in DESIGN.md). */
export const accountFileEntrySchema = z.object({
  api_key: z.string().min(8).max(512).regex(/^[\x21-\x7E]+$/, 'api_key must be printable ASCII without spaces'),
  id: z.string().min(1).max(128),
  tier: z.string().min(1),
  status: z.enum(['active', 'under_review']).optional(),
  usage: z.record(z.string(), z.object({ day: z.number().int().nonnegative().optional(), month: z.number().int().nonnegative().optional() })).optional(),
  custom_domains: z.number().int().nonnegative().optional(),
  webhook_secret: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/).optional(),
  operator_email: z.string().email().optional(),
});

/** An account with the API key it authenticates with. */
export interface KeyedAccount {
  readonly apiKey: string;
  readonly account: Account;
}

/** Demo accounts, one per default tier plus one under review. The free key is the one in the seeds' curl examples. */
export const DEMO_ACCOUNTS: readonly KeyedAccount[] = [
  { apiKey: 'dm_free_7d8a9b0c1d2e3f4g5h6i7j8k9l0m1n2o', account: { id: 'acc_demo_free', tier: 'free', webhookSecret: 'whsec_ZGVtby1mcmVlLXdlYmhvb2stc2VjcmV0LTAx', operatorEmail: 'operator@example.com' } },
  { apiKey: 'dm_developer_4b1c9e2a7f3d6b8e0a5c2f9d1e7b3a6c', account: { id: 'acc_demo_developer', tier: 'developer', webhookSecret: 'whsec_ZGVtby1kZXZlbG9wZXItd2ViaG9vay1zZWNyZXQ=', operatorEmail: 'operator@example.com', customDomains: 1 } },
  { apiKey: 'dm_growth_8e2f0b6d3a9c1e7f4b2d8a0c6e3f9b1d', account: { id: 'acc_demo_growth', tier: 'growth', webhookSecret: 'whsec_ZGVtby1ncm93dGgtd2ViaG9vay1zZWNyZXQtMDE=', operatorEmail: 'operator@example.com' } },
  { apiKey: 'dm_enterprise_2c7a5e9f1b3d8c0e6a4f2b9d7c1e5a3f', account: { id: 'acc_demo_enterprise', tier: 'enterprise', webhookSecret: 'whsec_ZGVtby1lbnRlcnByaXNlLXdlYmhvb2stc2VjcmV0', operatorEmail: 'operator@example.com' } },
  { apiKey: 'dm_review_6f3b9d1e7c5a2f8b0d4e6c9a3f1b7d5e', account: { id: 'acc_demo_review', tier: 'developer', status: 'under_review', webhookSecret: 'whsec_ZGVtby1yZXZpZXctd2ViaG9vay1zZWNyZXQtMDE=' } },
];

/** Reads and validates an accounts file; throws with the bad entry's index and field. */
export function loadAccountsFile(path: string, tiers: TierTable): KeyedAccount[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`TIERGATE_ACCOUNTS: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = z.array(accountFileEntrySchema).min(1).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`TIERGATE_ACCOUNTS: ${path}: [${issue?.path.join('.')}] ${issue?.message}`);
  }
  const seen = new Set<string>();
  return parsed.data.map((entry, i) => {
    if (tiers.tier(entry.tier) === undefined) throw new Error(`TIERGATE_ACCOUNTS: ${path}: [${i}.tier] unknown tier "${entry.tier}"`);
    if (seen.has(entry.id) || seen.has(`key:${entry.api_key}`)) throw new Error(`TIERGATE_ACCOUNTS: ${path}: [${i}] duplicate id or api_key`);
    seen.add(entry.id).add(`key:${entry.api_key}`);
    const account: Account = {
      id: entry.id,
      tier: entry.tier,
      ...(entry.status === undefined ? {} : { status: entry.status }),
      ...(entry.usage === undefined ? {} : { usage: entry.usage }),
      ...(entry.custom_domains === undefined ? {} : { customDomains: entry.custom_domains }),
      ...(entry.webhook_secret === undefined ? {} : { webhookSecret: entry.webhook_secret }),
      ...(entry.operator_email === undefined ? {} : { operatorEmail: entry.operator_email }),
    };
    return { apiKey: entry.api_key, account };
  });
}
