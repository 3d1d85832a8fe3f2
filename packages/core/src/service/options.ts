/**
 * Options of `createTiergate`, validated with zod at startup: a bad option
 * throws `CONFIG_INVALID` naming the option before the host serves a request.
 */
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { TiergateError } from '../errors.js';
import type { NotifierOptions } from '../notify/notifier.js';
import type { PartialCatalog } from '../policy/messages.js';
import type { TierTable } from '../policy/tiers.js';
import type { Store } from '../ports/store.js';
import type { SecretInput } from '../tokens/keyring.js';
import type { LookupAll } from '../webhooks/address.js';
import type { WebhookTransport } from '../webhooks/transport.js';
import type { Account, Authenticate, FindAccount } from './accounts.js';

/** Structured logging. tiergate never logs tokens, API keys or contexts. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Logs errors to `console.error` and nothing else. */
export const defaultLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message, fields) => console.error(`[tiergate] ${message}`, fields ?? ''),
};

/** Links the host owns; each may return `undefined` when it has none for an account. */
export interface HostLinks {
  /** Checkout page for upgrading `account` to `targetTier` (e.g. a Stripe Checkout URL). */
  readonly checkoutUrl?: (account: Account, targetTier: string) => string | undefined;
  /** The account's webhook settings page. */
  readonly webhookSettingsUrl?: (account: Account) => string | undefined;
  /** A support or contact form. */
  readonly supportUrl?: (account: Account) => string | undefined;
}

/** Callback delivery settings. */
export interface WebhookOptions {
  /** Delays after each failed attempt, ms (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). */
  readonly retrySchedule?: readonly number[];
  /** Per-attempt timeout, ms (default 15 000). */
  readonly timeoutMs?: number;
  /** Allow loopback/private callback URLs (development only; default false). */
  readonly allowPrivateCallbacks?: boolean;
  /** Consecutive failed attempts that mark the endpoint unhealthy (default 5). */
  readonly unhealthyAfter?: number;
  /** Outbound HTTP; default `nodeHttpTransport`. */
  readonly transport?: WebhookTransport;
  /** DNS resolution used by the default transport and the request-time check. */
  readonly resolve?: LookupAll;
}

/** Background work (sweep and dispatcher) started by `start()`. */
export interface BackgroundOptions {
  /** How often the expiry sweep runs, ms (default 1 000). */
  readonly sweepIntervalMs?: number;
  /** How often the outbox is polled, ms (default 500). */
  readonly deliverIntervalMs?: number;
  /** Messages claimed per poll (default 32). */
  readonly batchSize?: number;
  /** How long a claimed message is held before another instance may retry it, ms (default 60 000; must exceed the webhook timeout). */
  readonly leaseMs?: number;
}

/** Options of `createTiergate`. */
export interface TiergateOptions<TT extends TierTable = TierTable> {
  /** Looks up an account by API key (the host's own user storage). */
  readonly authenticate: Authenticate;
  /** Looks up an account by id; lets operator pages show live account details. */
  readonly findAccount?: FindAccount;
  /** Link-signing secret(s), ≥ 32 bytes each, newest first (rotation keeps the previous). */
  readonly secret: string | Uint8Array | readonly SecretInput[];
  /** HS256 (default) or EdDSA. */
  readonly linkAlgorithm?: 'HS256' | 'EdDSA';
  /** Public base URL where tiergate's routes are mounted (operator links point here), e.g. `https://api.example.com`. A function is read on each use. */
  readonly publicUrl: string | (() => string);
  /** Where state lives; default `memoryStore()` (one process). */
  readonly store?: Store;
  /** The tier table; default the seed's ({@link defaultTiers}). */
  readonly tiers?: TT;
  /** Message overrides (translations). */
  readonly messages?: PartialCatalog;
  /** Links the host owns. */
  readonly links?: HostLinks;
  /** Injected clock (tests). */
  readonly clock?: Clock;
  /** Lifetime of operator and upgrade links, seconds (default 7 days). */
  readonly linkTtlSeconds?: number;
  /** Age after which a reused capabilities link is re-signed, seconds (default 3 600). */
  readonly linkRefreshSeconds?: number;
  /** notify-operator limit per account (default 10 per 3 600 s); `false` turns it off. */
  readonly notifyRateLimit?: { readonly points: number; readonly durationSeconds: number } | false;
  /** How long decided/expired records are kept after their end, seconds (default 30 days). */
  readonly retentionSeconds?: number;
  readonly webhooks?: WebhookOptions;
  /** Operator notifications (e-mail, chat). */
  readonly notifiers?: NotifierOptions;
  readonly background?: BackgroundOptions;
  readonly logger?: Logger;
  /** Largest accepted request body, bytes (default 64 KiB). */
  readonly maxBodyBytes?: number;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message: 'must be a function' });
const positiveInt = z.number().int().positive();

const optionsSchema = z.object({
  authenticate: fn,
  findAccount: fn.optional(),
  secret: z.union([z.string(), z.instanceof(Uint8Array), z.array(z.unknown()).min(1)]),
  linkAlgorithm: z.enum(['HS256', 'EdDSA']).optional(),
  publicUrl: z.union([z.url({ protocol: /^https?$/ }), fn]),
  store: z.custom<Store>((v) => typeof v === 'object' && v !== null && typeof (v as Store).createNotification === 'function', { message: 'must implement the Store interface' }).optional(),
  tiers: z.custom<TierTable>((v) => typeof v === 'object' && v !== null && typeof (v as TierTable).tier === 'function', { message: 'must come from defineTiers()' }).optional(),
  messages: z.record(z.string(), z.unknown()).optional(),
  links: z.object({ checkoutUrl: fn.optional(), webhookSettingsUrl: fn.optional(), supportUrl: fn.optional() }).optional(),
  clock: z.object({ now: fn }).optional(),
  linkTtlSeconds: positiveInt.max(30 * 24 * 3600).optional(),
  linkRefreshSeconds: positiveInt.optional(),
  notifyRateLimit: z.union([z.literal(false), z.object({ points: positiveInt, durationSeconds: positiveInt })]).optional(),
  retentionSeconds: positiveInt.optional(),
  webhooks: z
    .object({
      retrySchedule: z.array(z.number().int().nonnegative()).optional(),
      timeoutMs: positiveInt.optional(),
      allowPrivateCallbacks: z.boolean().optional(),
      unhealthyAfter: positiveInt.optional(),
      transport: fn.optional(),
      resolve: fn.optional(),
    })
    .optional(),
  notifiers: z
    .object({ channels: z.record(z.string(), fn), route: fn.optional(), remindBeforeSeconds: positiveInt.optional() })
    .optional(),
  background: z
    .object({ sweepIntervalMs: positiveInt.optional(), deliverIntervalMs: positiveInt.optional(), batchSize: positiveInt.optional(), leaseMs: positiveInt.optional() })
    .optional(),
  logger: z.object({ debug: fn, info: fn, warn: fn, error: fn }).optional(),
  maxBodyBytes: positiveInt.optional(),
});

/** Validates options; throws `CONFIG_INVALID` naming the first bad option. */
export function validateOptions(options: unknown): void {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '(options)';
    throw new TiergateError('CONFIG_INVALID', `Invalid createTiergate option ${path}: ${issue?.message ?? 'invalid'}`, {
      details: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    });
  }
}
