/**
 * Every wire input and output as a `zod` schema: one source for validation,
 * TypeScript types (`z.infer`) and the OpenAPI document. JSON fields are
 * snake_case; request bodies also accept the seeds' camelCase aliases
 * (`actionLabel`, `callbackUrl`, `expiresIn`), normalised here.
 */
import { z } from 'zod';
import { rememberContextJson } from './context-json.js';

/** Longest `issue`, `reason` and `denial_reason`, in UTF-16 code units (seed: 1–1000). */
export const MAX_TEXT_LENGTH = 1000;
/** Longest `action_label`. */
export const MAX_LABEL_LENGTH = 100;
/** Largest `context`, as serialised JSON bytes. */
export const MAX_CONTEXT_BYTES = 16 * 1024;
/** Deepest nesting of `context`. */
export const MAX_CONTEXT_DEPTH = 8;
/** Shortest and longest `expires_in`, seconds (60 s – 7 days). */
export const EXPIRES_IN_RANGE = { min: 60, max: 7 * 24 * 3600 } as const;

// C0 controls except tab/newline/carriage return, DEL, C1 controls, and the
// bidi overrides that make displayed text differ from the stored text.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

function text(max: number, what: string) {
  return z
    .string()
    .max(max, { message: `${what} must be at most ${max} characters` })
    // zod counts code points; the contract counts UTF-16 code units (what JavaScript's .length says).
    .refine((s) => s.length <= max, { message: `${what} must be at most ${max} characters` })
    .refine((s) => s.trim().length > 0, { message: `${what} must not be empty or whitespace only` })
    .refine((s) => s.isWellFormed(), { message: `${what} must be valid Unicode` })
    .refine((s) => !FORBIDDEN_CHARS.test(s), { message: `${what} must not contain control characters` });
}

function depthAndKeys(value: unknown, depth: number): number {
  if (depth > MAX_CONTEXT_DEPTH) return Infinity;
  if (Array.isArray(value)) return value.reduce((max: number, v) => Math.max(max, depthAndKeys(v, depth + 1)), depth);
  if (typeof value === 'object' && value !== null) {
    let max = depth;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!key.isWellFormed()) return Infinity;
      max = Math.max(max, depthAndKeys(record[key], depth + 1));
    }
    return max;
  }
  if (typeof value === 'string' && !value.isWellFormed()) return Infinity;
  return depth;
}

/** Structured context: any JSON object, at most 16 KiB serialised and 8 levels deep. */
export const contextSchema = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    if (depthAndKeys(value, 1) > MAX_CONTEXT_DEPTH) {
      ctx.addIssue({ code: 'custom', message: `context must be at most ${MAX_CONTEXT_DEPTH} levels deep and valid Unicode` });
      return;
    }
    const json = JSON.stringify(value);
    if (Buffer.byteLength(json) > MAX_CONTEXT_BYTES) {
      ctx.addIssue({ code: 'custom', message: `context must be at most ${MAX_CONTEXT_BYTES} bytes as JSON` });
      return;
    }
    rememberContextJson(value, json);
  })
  .describe('Structured context shown to the operator as formatted JSON (encrypted at rest). Never put secrets here.');

const urgencySchema = z.enum(['low', 'medium', 'high']);
const actionName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, { message: 'action must be 1–64 letters, digits, _ . : -' });
const expiresIn = z.number().int().min(EXPIRES_IN_RANGE.min).max(EXPIRES_IN_RANGE.max);
const callbackUrl = z.string().max(2048).describe('Public http(s) URL that receives approval.* callbacks, signed per Standard Webhooks.');

/** Picks `snake ?? camel`, refusing two different values. */
function alias<T>(ctx: z.RefinementCtx, body: object, snake: string, camel: string): T | undefined {
  const a = (body as Record<string, unknown>)[snake];
  const b = (body as Record<string, unknown>)[camel];
  if (a !== undefined && b !== undefined && JSON.stringify(a) !== JSON.stringify(b)) {
    ctx.addIssue({ code: 'custom', path: [camel], message: `${snake} and ${camel} are the same field; send one` });
  }
  return (a ?? b) as T | undefined;
}

/** `POST /v1/notify-operator` body of a plain notification (seed: notify-operator). */
export const notificationInputSchema = z.object({
  type: z.literal('notification').optional(),
  issue: text(MAX_TEXT_LENGTH, 'issue').describe('Description of the issue or request (1–1000 characters).'),
  context: contextSchema.optional(),
  action_label: text(MAX_LABEL_LENGTH, 'action_label').optional().describe('Button text of the action link (default "Review Request").'),
  actionLabel: text(MAX_LABEL_LENGTH, 'actionLabel').optional().describe('Alias of action_label.'),
});

/** `POST /v1/notify-operator` body of an approval request (seed: human-approval-workflow). */
export const approvalInputSchema = z.object({
  type: z.literal('approval_request'),
  action: actionName.describe('What the agent wants to do, e.g. bulk_send.'),
  reason: text(MAX_TEXT_LENGTH, 'reason').describe('Why it needs approval.'),
  issue: text(MAX_TEXT_LENGTH, 'issue').optional().describe('Shown to the operator; defaults to reason.'),
  context: contextSchema.optional(),
  urgency: urgencySchema.optional().describe('low, medium (default) or high.'),
  callback_url: callbackUrl.optional(),
  callbackUrl: callbackUrl.optional().describe('Alias of callback_url.'),
  expires_in: expiresIn.optional().describe('Seconds until the request expires: 60 – 604800 (default 7 days).'),
  expiresIn: expiresIn.optional().describe('Alias of expires_in.'),
  action_label: text(MAX_LABEL_LENGTH, 'action_label').optional(),
  actionLabel: text(MAX_LABEL_LENGTH, 'actionLabel').optional(),
});

/** A notify-operator body, normalised to one shape. */
export type NotifyOperatorInput =
  | { readonly type: 'notification'; readonly issue: string; readonly context?: Record<string, unknown>; readonly actionLabel?: string }
  | {
      readonly type: 'approval_request';
      readonly action: string;
      readonly reason: string;
      readonly issue: string;
      readonly context?: Record<string, unknown>;
      readonly urgency: 'low' | 'medium' | 'high';
      readonly callbackUrl?: string;
      readonly expiresIn?: number;
      readonly actionLabel?: string;
    };

/** The `POST /v1/notify-operator` body as documented (either shape). */
export const notifyOperatorBodySchema = z.union([notificationInputSchema, approvalInputSchema]).meta({ id: 'NotifyOperatorRequest' });

/**
 * Validates and normalises a notify-operator body: `"type": "approval_request"`
 * selects the approval shape, anything else the notification shape (so errors
 * name the fields of the shape the caller meant).
 */
export function parseNotifyOperatorBody(body: unknown): { ok: true; value: NotifyOperatorInput } | { ok: false; error: z.ZodError } {
  const isApproval = typeof body === 'object' && body !== null && (body as { type?: unknown }).type === 'approval_request';
  const parsed = (isApproval ? approvalWithAliases : notificationWithAliases).safeParse(body);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error };
}

const notificationWithAliases = notificationInputSchema.transform((body, ctx): NotifyOperatorInput => {
  const actionLabel = alias<string>(ctx, body, 'action_label', 'actionLabel');
  // Written out rather than spread: this runs on every notify-operator call.
  const { issue, context } = body;
  if (context === undefined) return actionLabel === undefined ? { type: 'notification', issue } : { type: 'notification', issue, actionLabel };
  return actionLabel === undefined ? { type: 'notification', issue, context } : { type: 'notification', issue, context, actionLabel };
});

const approvalWithAliases = approvalInputSchema.transform((body, ctx): NotifyOperatorInput => {
  const actionLabel = alias<string>(ctx, body, 'action_label', 'actionLabel');
  const callback = alias<string>(ctx, body, 'callback_url', 'callbackUrl');
  const expires = alias<number>(ctx, body, 'expires_in', 'expiresIn');
  return {
    type: 'approval_request',
    action: body.action,
    reason: body.reason,
    issue: body.issue ?? body.reason,
    urgency: body.urgency ?? 'medium',
    ...(body.context === undefined ? {} : { context: body.context }),
    ...(actionLabel === undefined ? {} : { actionLabel }),
    ...(callback === undefined ? {} : { callbackUrl: callback }),
    ...(expires === undefined ? {} : { expiresIn: expires }),
  };
});

/** `POST /v1/upgrade-link` body (optional). */
export const upgradeLinkBodySchema = z.object({
  tier: z.string().max(64).optional().describe('Tier to offer; defaults to the lowest tier that lifts the first blocked action.'),
});

/** `GET /v1/approvals/:request_id` query. */
export const approvalQuerySchema = z.object({
  wait: z.coerce.number().int().min(0).max(30).optional().describe('Hold the request up to this many seconds (≤ 30) until the status changes.'),
});

/** Optional free text of the operator form: may be empty, but is held to the same characters as every other stored text. */
function formText(max: number, what: string) {
  return z
    .string()
    .refine((s) => s.length <= max, { message: `${what} must be at most ${max} characters` })
    .refine((s) => s.isWellFormed(), { message: `${what} must be valid Unicode` })
    .refine((s) => !FORBIDDEN_CHARS.test(s), { message: `${what} must not contain control characters` });
}

/** `POST /operator/action` form fields. */
export const operatorDecisionFormSchema = z.object({
  token: z.string().min(1).max(4096),
  form_token: z.string().min(1).max(128),
  decision: z.enum(['approve', 'deny']),
  denial_reason: formText(MAX_TEXT_LENGTH, 'denial_reason').optional(),
  name: formText(MAX_LABEL_LENGTH, 'name').optional(),
});

// ----------------------------------------------------------------- outputs

/** `can[]` entry. */
export const canEntrySchema = z.object({ action: z.string(), description: z.string() });
/** `cannot[]` entry. */
export const cannotEntrySchema = z.object({
  action: z.string(),
  reason: z.string().describe('Reason code, e.g. SEND_REQUIRES_PAID.'),
  resets_at: z.string().optional().describe('When a quota limit lifts (quota reasons only).'),
  unlock_url: z.string().optional().describe('Signed upgrade link (7 days), when an upgrade lifts the limit.'),
  api_call: z.string().optional().describe('API call that produces a fresh link.'),
});
/** How to ask the operator for help. */
export const upgradeContextSchema = z.object({
  operator_action_url: z.string(),
  operator_action_label: z.string(),
  agent_script: z.string(),
});
/** `GET /v1/capabilities` result. */
export const capabilitiesResultSchema = z
  .object({
    tier: z.string(),
    can: z.array(canEntrySchema),
    cannot: z.array(cannotEntrySchema),
    upgrade_context: upgradeContextSchema.nullable(),
  })
  .meta({ id: 'Capabilities' });

const windowUsage = z.object({ used: z.number().int(), limit: z.number().int().nullable().describe('null = unlimited'), resets_at: z.string() });
/** `GET /v1/account` result. */
export const accountResultSchema = z
  .object({
    id: z.string(),
    tier: z.string(),
    status: z.string(),
    usage: z.record(z.string(), z.object({ day: windowUsage, month: windowUsage })),
    custom_domains: z.object({ used: z.number().int(), limit: z.number().int().nullable() }),
    webhook_health: z.object({ healthy: z.boolean(), consecutive_failures: z.number().int() }),
  })
  .meta({ id: 'Account' });
/** `POST /v1/upgrade-link` result. */
export const upgradeLinkResultSchema = z
  .object({
    operator_action_url: z.string(),
    operator_action_label: z.string(),
    agent_script: z.string(),
    expires_at: z.string(),
    target_tier: z.string(),
  })
  .meta({ id: 'UpgradeLink' });
/** `POST /v1/notify-operator` result (approval fields only for approval requests). */
export const notifyOperatorResultSchema = z
  .object({
    operator_action_url: z.string(),
    operator_action_label: z.string(),
    agent_script: z.string(),
    notification_id: z.string(),
    expires_at: z.string(),
    request_id: z.string().optional(),
    status: z.literal('pending').optional(),
  })
  .meta({ id: 'Notification' });
/** `GET /v1/approvals/:request_id` result. */
export const approvalResultSchema = z
  .object({
    request_id: z.string(),
    status: z.enum(['pending', 'approved', 'denied', 'expired']),
    action: z.string(),
    urgency: z.enum(['low', 'medium', 'high']),
    created_at: z.string(),
    expires_at: z.string(),
    decided_by: z.string().nullable(),
    decided_at: z.string().nullable(),
    denial_reason: z.string().nullable(),
  })
  .meta({ id: 'Approval' });
/** Every error body. */
export const errorBodySchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
    next_steps: z.array(z.string()),
  })
  .meta({ id: 'Error' });

/** Wraps a result schema in the success envelope. */
export function envelope<T extends z.ZodType>(result: T) {
  return z.object({ result, next_steps: z.array(z.string()) });
}

/** Result types (snake_case, as on the wire). */
export type CapabilitiesResult = z.infer<typeof capabilitiesResultSchema>;
export type AccountResult = z.infer<typeof accountResultSchema>;
export type UpgradeLinkResult = z.infer<typeof upgradeLinkResultSchema>;
export type NotifyOperatorResult = z.infer<typeof notifyOperatorResultSchema>;
export type ApprovalResult = z.infer<typeof approvalResultSchema>;
export type ErrorBody = z.infer<typeof errorBodySchema>;
export type UpgradeContext = z.infer<typeof upgradeContextSchema>;
export type CannotEntryWire = z.infer<typeof cannotEntrySchema>;

/** Validation issues as `{ path, message }` (the `details` of `INVALID_REQUEST`). */
export function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}
