/**
 * Which suggested actions an operator page offers for an issue: tier limits →
 * upgrade / checkout; webhook trouble → webhook settings; account review →
 * contact support. Reason codes named in the context (`blocked_by`,
 * `error_code`, `reason`, `code`) and the account's live blocks decide; the
 * issue's wording is the fallback for free-text requests.
 */
import type { MessageCatalog } from './messages.js';
import { reasonMessages } from './messages.js';
import type { ReasonKind } from './tiers.js';

/** A kind of suggested action. */
export type SuggestionKind = 'upgrade' | 'webhook_settings' | 'support';

const CONTEXT_REASON_KEYS = ['blocked_by', 'error_code', 'reason', 'code', 'reason_code'];

/** Reason codes a context names explicitly. */
export function reasonsInContext(context: unknown): string[] {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) return [];
  const found: string[] = [];
  for (const key of CONTEXT_REASON_KEYS) {
    const value = (context as Record<string, unknown>)[key];
    if (typeof value === 'string' && /^[A-Z][A-Z0-9_]{2,63}$/.test(value)) found.push(value);
  }
  return found;
}

const KEYWORDS: [SuggestionKind, RegExp][] = [
  ['webhook_settings', /\bwebhooks?\b|\bendpoint\b|\bcallback/i],
  ['support', /\bunder review\b|\breview(ed)?\b|\bsuspend|\brestrict|\bsupport\b|\bbounce/i],
  ['upgrade', /\bupgrade|\btier\b|\bpaid\b|\bplan\b|\blimit|\bquota|\bcustom domain|\bsmtp\b|\bsending access/i],
];

/**
 * The suggestion kinds for an issue, most specific first: from reason codes
 * (context first, then the account's live blocks), else from the wording.
 */
export function suggestionKinds(
  catalog: MessageCatalog,
  issue: string,
  context: unknown,
  liveReasons: readonly { action: string; reason: string }[],
  kindOf: (reason: string) => ReasonKind | undefined = () => undefined,
): SuggestionKind[] {
  const kinds = new Set<SuggestionKind>();
  for (const code of reasonsInContext(context)) {
    const known = catalog.reasons[code];
    if (known !== undefined) kinds.add(known.suggest);
  }
  if (kinds.size === 0) for (const [kind, pattern] of KEYWORDS) if (pattern.test(issue)) kinds.add(kind);
  if (kinds.size === 0) for (const { action, reason } of liveReasons) kinds.add(reasonMessages(catalog, reason, action, kindOf(reason)).suggest);
  return [...kinds];
}
