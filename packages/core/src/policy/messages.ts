/**
 * Every sentence tiergate shows an agent or an operator comes from one message
 * catalog keyed by reason code. English is the default; a host passes a
 * partial catalog (`createTiergate({ messages })`) to translate or restyle, and
 * {@link mergeCatalog} fills in the rest from English.
 */
import { isoTime } from '../clock.js';
import type { ErrorCode } from '../errors.js';
import type { ReasonKind } from './tiers.js';

/** What to say about one reason code. */
export interface ReasonMessages {
  /** One line for people, e.g. "Sending requires a paid tier". */
  readonly summary: string;
  /** The agent's request in the first person, e.g. "I need sending access". */
  readonly need: string;
  /** Button text for the operator link, e.g. "Upgrade to enable sending". */
  readonly actionLabel: string;
  /** Which suggested action fits: an upgrade/checkout, the webhook settings, or support. */
  readonly suggest: 'upgrade' | 'webhook_settings' | 'support';
}

/** Strings of the operator and upgrade pages. */
export interface PageMessages {
  readonly operatorTitle: string;
  readonly approvalTitle: (actionTitle: string) => string;
  readonly statusTitle: string;
  readonly issue: string;
  readonly context: string;
  readonly contextUnavailable: string;
  readonly noContext: string;
  readonly suggestedActions: string;
  readonly account: string;
  readonly tier: string;
  readonly status: string;
  readonly usage: string;
  readonly usageLine: (action: string, day: string, month: string) => string;
  readonly customDomains: string;
  readonly webhook: string;
  readonly webhookHealthy: string;
  readonly webhookUnhealthy: string;
  readonly of: (used: number, limit: number) => string;
  readonly unlimited: string;
  readonly expires: (when: string, left: string) => string;
  readonly action: string;
  readonly reason: string;
  readonly urgency: string;
  readonly urgencyLevel: (urgency: 'low' | 'medium' | 'high') => string;
  readonly approve: string;
  readonly deny: string;
  readonly denyReason: string;
  readonly yourName: string;
  readonly preselected: (choice: 'approve' | 'deny') => string;
  readonly confirmHint: string;
  readonly approvedTitle: string;
  readonly deniedTitle: string;
  readonly decisionRecorded: string;
  readonly alreadyDecided: (status: string, by: string, at: string) => string;
  readonly expiredTitle: string;
  readonly expiredBody: string;
  readonly upgradeTitle: (target: string) => string;
  readonly currentTier: string;
  readonly targetTier: string;
  readonly unlocks: string;
  readonly checkout: string;
  readonly noCheckout: string;
  readonly alreadyOnTier: string;
  readonly suggestUpgrade: (target: string) => string;
  readonly suggestWebhookSettings: string;
  readonly suggestSupport: string;
  readonly linkInvalidTitle: string;
  readonly linkInvalidBody: string;
  readonly linkExpiredTitle: string;
  readonly linkExpiredBody: string;
  readonly linkScopeTitle: string;
  readonly linkScopeBody: string;
  readonly forbiddenTitle: string;
  readonly forbiddenBody: string;
  readonly notFoundTitle: string;
  readonly unavailableTitle: string;
  readonly unavailableBody: string;
  readonly errorTitle: string;
  readonly errorBody: string;
  readonly footer: string;
}

/** Strings of the operator notification (e-mail, Slack, Discord). */
export interface NotificationMessages {
  readonly approvalSubject: (actionTitle: string) => string;
  readonly notificationSubject: (issue: string) => string;
  readonly reminderSubject: (actionTitle: string) => string;
  readonly approvalIntro: string;
  readonly notificationIntro: string;
  readonly reminderIntro: (left: string) => string;
  readonly approveButton: string;
  readonly denyButton: string;
  readonly reviewButton: string;
  readonly expiresIn: (left: string) => string;
}

/** The whole catalog. Functions take already-plain values and return plain text; escaping is the renderer's job. */
export interface MessageCatalog {
  /** BCP 47 tag used for `<html lang>` and number/date formatting. */
  readonly locale: string;
  /** Per reason code. */
  readonly reasons: Readonly<Record<string, ReasonMessages>>;
  /** For a reason code the catalog does not list (`kind` from the tier table, when known). */
  readonly unknownReason: (code: string, action: string, kind: ReasonKind | undefined) => ReasonMessages;
  /** Ready-made sentences for the agent to pass on. */
  readonly agentScript: {
    readonly upgrade: (need: string, url: string) => string;
    readonly action: (issue: string, url: string) => string;
  };
  /** Default `operator_action_label` of notify-operator (seed: "Review Request"). */
  readonly defaultActionLabel: string;
  /** `next_steps` of each response. */
  readonly nextSteps: {
    readonly capabilitiesBlocked: readonly string[];
    readonly capabilitiesClear: (tierLabel: string, nextTierLabel: string | undefined) => readonly string[];
    readonly account: readonly string[];
    readonly upgradeLink: (days: string) => readonly string[];
    readonly notifyOperator: (validFor: string) => readonly string[];
    readonly approvalRequested: (validFor: string) => readonly string[];
    readonly approvalStatus: (status: 'pending' | 'approved' | 'denied' | 'expired') => readonly string[];
    readonly error: (code: string) => readonly string[];
  };
  /** Error messages by code (prose; clients compare `code`). */
  readonly errors: Readonly<Record<ErrorCode, string>> & Readonly<Record<string, string>>;
  /** A deny of the guard: "send_messages is not allowed: Sending requires a paid tier". */
  readonly denied: (action: string, summary: string) => string;
  /** "1 hour", "7 days", "59 minutes". */
  readonly duration: (ms: number) => string;
  /** Absolute time for pages and messages. */
  readonly dateTime: (epochMs: number) => string;
  /** `bulk_send` → "Bulk Send". */
  readonly actionTitle: (action: string) => string;
  readonly page: PageMessages;
  readonly notification: NotificationMessages;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * "7 days", "1 hour", "59 minutes": the largest unit that fits, rounded to
 * the nearest whole one (a link valid for 6 d 23 h 59 min reads "7 days").
 */
export function englishDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  const DAY = 24 * 60;
  if (minutes >= 2 * DAY || (minutes >= DAY && minutes % DAY < 30)) return plural(Math.round(minutes / DAY), 'day', 'days');
  if (minutes >= 60) return plural(Math.round(minutes / 60), 'hour', 'hours');
  if (minutes >= 1) return plural(minutes, 'minute', 'minutes');
  return 'less than a minute';
}

const titleCase = (action: string): string =>
  action
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');

/** Ends a sentence with a full stop unless it already ends with punctuation. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?…:]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** The English catalog. */
export const englishMessages: MessageCatalog = {
  locale: 'en',
  reasons: {
    SEND_REQUIRES_PAID: { summary: 'Sending requires a paid tier', need: 'I need sending access', actionLabel: 'Upgrade to enable sending', suggest: 'upgrade' },
    SEND_LIMIT_EXCEEDED: { summary: 'The daily or monthly send limit is reached', need: 'I have reached my sending limit', actionLabel: 'Upgrade for higher sending limits', suggest: 'upgrade' },
    DOMAIN_REQUIRES_PAID: { summary: 'Custom domains require a paid tier', need: 'I need to use a custom domain', actionLabel: 'Upgrade to use custom domains', suggest: 'upgrade' },
    SMTP_REQUIRES_PAID: { summary: 'SMTP access requires a paid tier', need: 'I need SMTP access', actionLabel: 'Upgrade to enable SMTP', suggest: 'upgrade' },
    ACCOUNT_UNDER_REVIEW: { summary: 'The account is under review; some operations are restricted', need: 'My account is under review and some operations are restricted', actionLabel: 'Contact Support', suggest: 'support' },
    WEBHOOK_ENDPOINT_UNHEALTHY: { summary: 'Webhook deliveries to the endpoint are failing', need: 'My webhook endpoint is failing deliveries', actionLabel: 'View Webhook Settings', suggest: 'webhook_settings' },
  },
  unknownReason: (code, action, kind) => ({
    summary: action === '' ? code : `${titleCase(action)} is not available (${code})`,
    need: action === '' ? `My account is restricted (${code})` : `I need access to ${action.replace(/_/g, ' ')}`,
    actionLabel: kind === 'tier' || kind === 'quota' ? 'Upgrade' : kind === 'webhook' ? 'View Webhook Settings' : 'Review Request',
    suggest: kind === 'tier' || kind === 'quota' ? 'upgrade' : kind === 'webhook' ? 'webhook_settings' : 'support',
  }),
  agentScript: {
    upgrade: (need, url) => `Tell your operator: ${sentence(need)} Here's a direct upgrade link: ${url}`,
    action: (issue, url) => `Tell your operator: ${sentence(issue)} Here's a direct action link: ${url}`,
  },
  defaultActionLabel: 'Review Request',
  nextSteps: {
    capabilitiesBlocked: [
      'Use the can[] array to determine available actions',
      'When hitting a cannot[] limitation, use the upgrade_context to request operator intervention',
      'Call POST /v1/upgrade-link to generate a fresh upgrade URL',
    ],
    capabilitiesClear: (tier, next) => [
      `All core features available at ${tier} tier`,
      'Monitor daily/monthly send limits via GET /v1/account',
      ...(next === undefined ? [] : [`Upgrade to ${next} tier for higher sending limits`]),
    ],
    account: ['Check usage against limits before large operations', 'Call GET /v1/capabilities to see what is allowed right now'],
    upgradeLink: (days) => ['Share operator_action_url with your operator', 'Use agent_script as a ready-made message template', `Link is valid for ${days}`],
    notifyOperator: (validFor) => [
      'Share operator_action_url with your operator via Slack, email, or UI',
      'Use agent_script as a ready-made message template',
      `Link is valid for ${validFor}`,
      'Operator can view issue details and take action without logging in',
    ],
    approvalRequested: (validFor) => [
      'Share operator_action_url with your operator via Slack, email, or UI',
      'Wait for the approval.granted / approval.denied callback, or poll GET /v1/approvals/{request_id}?wait=30',
      `The request expires in ${validFor} if nobody decides`,
    ],
    approvalStatus: (status) =>
      status === 'pending'
        ? ['Poll again with ?wait=30 to wait for a decision', 'Do not proceed until the status is approved']
        : status === 'approved'
          ? ['Proceed with the approved action']
          : status === 'denied'
            ? ['Do not proceed; read denial_reason', 'Ask your operator before requesting again']
            : ['Do not proceed; the request expired without a decision', 'Request approval again if the action is still needed'],
    error: (code) => {
      switch (code) {
        case 'UNAUTHORIZED':
          return ['Send your API key as Authorization: Bearer <api_key>'];
        case 'INVALID_REQUEST':
          return ['Fix the fields listed in error.details and retry'];
        case 'RATE_LIMITED':
          return ['Wait for the Retry-After header (seconds) before retrying'];
        case 'STORE_UNAVAILABLE':
          return ['Retry after the Retry-After header (seconds); nothing was changed'];
        case 'NOT_FOUND':
          return ['Check the path; GET /v1/openapi.json lists every route'];
        case 'CALLBACK_URL_FORBIDDEN':
          return ['Use a public https:// callback URL without credentials'];
        default:
          return ['Call GET /v1/capabilities to see what is allowed', 'Use upgrade_context to request operator intervention'];
      }
    },
  },
  errors: {
    INVALID_REQUEST: 'The request is invalid.',
    CALLBACK_URL_FORBIDDEN: 'The callback URL is not allowed: use a public http(s) URL without credentials.',
    LINK_INVALID: 'This link is invalid.',
    UNAUTHORIZED: 'Invalid or missing API key.',
    LINK_SCOPE_MISMATCH: 'This link is not valid for this page or account.',
    CSRF_REJECTED: 'The form could not be verified. Open the link again and retry.',
    NOT_FOUND: 'Not found.',
    METHOD_NOT_ALLOWED: 'Method not allowed.',
    APPROVAL_ALREADY_DECIDED: 'This request has already been decided.',
    LINK_EXPIRED: 'This link has expired.',
    APPROVAL_EXPIRED: 'This request has expired.',
    PAYLOAD_TOO_LARGE: 'The request body is too large.',
    UNSUPPORTED_MEDIA_TYPE: 'Send the body as application/json.',
    RATE_LIMITED: 'Too many requests; retry later.',
    INTERNAL_ERROR: 'Something went wrong on our side.',
    STORE_UNAVAILABLE: 'The service is temporarily unavailable; nothing was changed. Retry shortly.',
    CONTEXT_UNAVAILABLE: 'The stored context could not be decrypted.',
    CONFIG_INVALID: 'The service is misconfigured.',
    TIER_TABLE_INVALID: 'The tier table is invalid.',
  },
  denied: (action, summary) => `${action} is not allowed: ${summary}`,
  duration: englishDuration,
  dateTime: (ms) => {
    const iso = isoTime(ms); // 2026-03-17T12:00:00.000Z; years outside 0–9999 are longer
    return iso.length === 24 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : iso.replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
  },
  actionTitle: titleCase,
  page: {
    operatorTitle: 'Your agent needs your attention',
    approvalTitle: (action) => `Approval requested: ${action}`,
    statusTitle: 'Account status',
    issue: 'Issue',
    context: 'Context',
    contextUnavailable: 'The context of this request is unavailable (it could not be decrypted).',
    noContext: 'No context was provided.',
    suggestedActions: 'Suggested actions',
    account: 'Account',
    tier: 'Tier',
    status: 'Status',
    usage: 'Usage',
    usageLine: (action, day, month) => `${action}: ${day} today, ${month} this month`,
    customDomains: 'Custom domains',
    webhook: 'Webhook endpoint',
    webhookHealthy: 'healthy',
    webhookUnhealthy: 'failing',
    of: (used, limit) => `${used.toLocaleString('en-US')} of ${limit.toLocaleString('en-US')}`,
    unlimited: 'unlimited',
    expires: (when, left) => `Expires ${when} (in ${left})`,
    action: 'Action',
    reason: 'Reason',
    urgency: 'Urgency',
    urgencyLevel: (u) => ({ low: 'Low', medium: 'Medium', high: 'High' })[u],
    approve: 'Approve',
    deny: 'Deny',
    denyReason: 'Reason for denying (optional)',
    yourName: 'Your name (optional)',
    preselected: (choice) => (choice === 'approve' ? 'You chose Approve in the message. Confirm below.' : 'You chose Deny in the message. Confirm below.'),
    confirmHint: 'Nothing happens until you press a button.',
    approvedTitle: 'Approved',
    deniedTitle: 'Denied',
    decisionRecorded: 'Your decision is recorded and your agent is being notified.',
    alreadyDecided: (status, by, at) => `This request was already ${status} by ${by} at ${at}.`,
    expiredTitle: 'This request has expired',
    expiredBody: 'Nobody decided before it expired. Your agent has been told; it can ask again.',
    upgradeTitle: (target) => `Upgrade to ${target}`,
    currentTier: 'Current tier',
    targetTier: 'New tier',
    unlocks: 'What it unlocks',
    checkout: 'Continue to checkout',
    noCheckout: 'Contact your account administrator to upgrade.',
    alreadyOnTier: 'This account is already on this tier or higher.',
    suggestUpgrade: (target) => `Upgrade to ${target}`,
    suggestWebhookSettings: 'Open webhook settings',
    suggestSupport: 'Contact support',
    linkInvalidTitle: 'This link is invalid',
    linkInvalidBody: 'The link is damaged or was not issued by this service. Ask your agent for a fresh one.',
    linkExpiredTitle: 'This link has expired',
    linkExpiredBody: 'Operator links are valid for a limited time. Ask your agent for a fresh one.',
    linkScopeTitle: 'This link is not valid here',
    linkScopeBody: 'The link belongs to another page, account or request.',
    forbiddenTitle: 'The form could not be verified',
    forbiddenBody: 'Open the link from your message again and use the buttons on that page.',
    notFoundTitle: 'Not found',
    unavailableTitle: 'Temporarily unavailable',
    unavailableBody: 'Nothing was changed. Please retry in a moment.',
    errorTitle: 'Something went wrong',
    errorBody: 'Nothing was changed. Please retry in a moment.',
    footer: 'Sent by your agent through tiergate. This page never acts on its own: only your click decides.',
  },
  notification: {
    approvalSubject: (action) => `Agent Approval Required: ${action}`,
    notificationSubject: (issue) => `Your agent needs your help: ${issue.length > 80 ? `${issue.slice(0, 77)}...` : issue}`,
    reminderSubject: (action) => `Reminder: Agent Approval Required: ${action}`,
    approvalIntro: 'Your agent needs approval for the following action:',
    notificationIntro: 'Your agent needs your help:',
    reminderIntro: (left) => `This approval request expires in ${left} and nobody has decided yet.`,
    approveButton: 'Approve Action',
    denyButton: 'Deny Action',
    reviewButton: 'Review Request',
    expiresIn: (left) => `This request expires in ${left}.`,
  },
};

/** A partial catalog: any subset of strings/functions, at any depth. */
export type PartialCatalog = {
  readonly [K in keyof MessageCatalog]?: MessageCatalog[K] extends (...args: never[]) => unknown
    ? MessageCatalog[K]
    : MessageCatalog[K] extends object
      ? { readonly [P in keyof MessageCatalog[K]]?: MessageCatalog[K][P] }
      : MessageCatalog[K];
};

/** English with `overrides` laid over it, one level deep per section. */
export function mergeCatalog(overrides: PartialCatalog | undefined, base: MessageCatalog = englishMessages): MessageCatalog {
  if (overrides === undefined) return base;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const current = (base as unknown as Record<string, unknown>)[key];
    merged[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null
        ? { ...current, ...value }
        : value;
  }
  return merged as unknown as MessageCatalog;
}

/** The messages of a reason code, falling back to a generic sentence for its kind. */
export function reasonMessages(catalog: MessageCatalog, code: string, action: string, kind?: ReasonKind): ReasonMessages {
  return catalog.reasons[code] ?? catalog.unknownReason(code, action, kind);
}
