/**
 * Server-rendered operator pages. No client script at all: the Approve and
 * Deny buttons are plain form posts. Everything user-supplied goes through
 * `escapeHtml`; the stylesheet is one static file with its hash in its name
 * (served by the kernel, cached by browsers for a year), so the page works with
 * `default-src 'none'; style-src 'self'` and an injected `<script>`, inline
 * handler or inline style could not run even if escaping failed. Laid out for a 375 px phone
 * first (these links are opened from Slack and e-mail).
 */
import { createHash } from 'node:crypto';
import type { MessageCatalog } from '../policy/messages.js';
import { escapeHtml, escapedJson, escapeRecurring } from '../render/html.js';
import type { AccountDetails, OperatorView, Suggestion, UpgradeView } from '../service/create-tiergate.js';
import type { ApprovalRecord } from '../approvals/state.js';

const STYLE = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--accent:#1f6feb;--danger:#cf222e;--ok:#1a7f37}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--bg:#0d1117;--card:#161b22;--line:#30363d;--accent:#4493f8;--danger:#f85149;--ok:#3fb950}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:640px;margin:0 auto;padding:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px;margin:0 0 16px}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 12px;overflow-wrap:anywhere}
h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:0 0 8px}
p{margin:0 0 8px;overflow-wrap:anywhere}
.issue{white-space:pre-wrap;font-size:1.05rem}
pre{margin:0;padding:12px;background:var(--bg);border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;max-height:60vh;overflow:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere;min-width:0}
ul{margin:0;padding-left:20px}
li{margin:0 0 4px;overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.9rem}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid var(--line)}
.urgency-high{color:var(--danger);border-color:var(--danger)}
.urgency-medium{color:#9a6700;border-color:#9a6700}
.notice{border-left:4px solid var(--accent);padding-left:12px}
.notice.bad{border-color:var(--danger)}
.notice.good{border-color:var(--ok)}
.actions{display:flex;flex-direction:column;gap:12px}
form{margin:0}
label{display:block;font-size:.9rem;color:var(--muted);margin:0 0 4px}
textarea,input[type=text]{width:100%;font:inherit;padding:8px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
textarea{min-height:72px;resize:vertical}
button,.button{display:block;width:100%;text-align:center;font:inherit;font-weight:600;padding:12px 16px;border-radius:8px;border:0;cursor:pointer;text-decoration:none;color:#fff;background:var(--accent)}
button.deny{background:var(--danger)}
.selected{outline:3px solid var(--fg);outline-offset:2px}
.field{margin:0 0 10px}
a{color:var(--accent)}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:8px 16px 24px}
@media (min-width:560px){.actions{flex-direction:row;align-items:flex-start}.actions>form{flex:1}}
`;

/** The pages' stylesheet, served at `/operator/${STYLESHEET_FILE}` (content-addressed: a new style is a new name). */
export const STYLESHEET = STYLE.trim();

/** File name of {@link STYLESHEET}: its hash is in the name, so it can be cached as immutable. */
export const STYLESHEET_FILE = `tiergate-${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 16)}.css`;

/** Headers of the stylesheet: a static, immutable asset. */
export const STYLESHEET_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/css; charset=utf-8',
  'cache-control': 'public, max-age=31536000, immutable',
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
});

/** The Content-Security-Policy of every page: no script at all, no inline style, only the stylesheet file. */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * What every page needs besides its data: the message catalog, and the
 * stylesheet's URL path (where tiergate is mounted + `/operator/` + {@link STYLESHEET_FILE}).
 */
export interface PageContext {
  readonly catalog: MessageCatalog;
  readonly stylesheet: string;
}

/** Security headers of every page and error page (DESIGN security rule 6). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-robots-tag': 'noindex, nofollow',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
});

function layout({ catalog, stylesheet }: PageContext, title: string, body: string): string {
  return `<!doctype html><html lang="${escapeRecurring(catalog.locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer"><title>${escapeRecurring(title)}</title><link rel="stylesheet" href="${escapeRecurring(stylesheet)}"></head><body><main>${body}</main><footer>${escapeRecurring(catalog.page.footer)}</footer></body></html>`;
}

function limitText(catalog: MessageCatalog, used: number, limit: number): string {
  return limit === Infinity ? `${used.toLocaleString(catalog.locale)} (${catalog.page.unlimited})` : catalog.page.of(used, limit);
}

function accountCard(catalog: MessageCatalog, account: AccountDetails): string {
  const p = catalog.page;
  // [label, escaped value]: counts change from view to view, the other values recur.
  const rows: [string, string][] = [
    [p.tier, escapeRecurring(account.tierLabel)],
    [p.status, escapeRecurring(account.status)],
    ...account.usage.map((u): [string, string] => [p.usage, escapeHtml(p.usageLine(u.action, limitText(catalog, u.day[0], u.day[1]), limitText(catalog, u.month[0], u.month[1])))]),
    ...(account.customDomains === null ? [] : [[p.customDomains, escapeHtml(limitText(catalog, account.customDomains[0], account.customDomains[1]))] as [string, string]]),
    [p.webhook, escapeRecurring(account.webhookHealthy ? p.webhookHealthy : p.webhookUnhealthy)],
  ];
  return `<section class="card"><h2>${escapeRecurring(p.account)}</h2><dl>${rows.map(([k, v]) => `<dt>${escapeRecurring(k)}</dt><dd>${v}</dd>`).join('')}</dl></section>`;
}

function suggestionsCard(catalog: MessageCatalog, suggestions: readonly Suggestion[]): string {
  if (suggestions.length === 0) return '';
  return `<section class="card"><h2>${escapeRecurring(catalog.page.suggestedActions)}</h2><ul>${suggestions
    .map((s) => `<li><a href="${escapeRecurring(s.url)}" rel="noopener noreferrer">${escapeRecurring(s.label)}</a></li>`)
    .join('')}</ul></section>`;
}

function decisionForms(catalog: MessageCatalog, view: Extract<OperatorView, { kind: 'notification' }>, action: string): string {
  const p = catalog.page;
  const hidden = `<input type="hidden" name="token" value="${escapeHtml(view.token)}"><input type="hidden" name="form_token" value="${escapeHtml(view.formToken)}">`;
  const nameField =
    view.operatorEmail === null ? `<div class="field"><label for="name">${escapeHtml(p.yourName)}</label><input type="text" id="name" name="name" maxlength="100" autocomplete="name"></div>` : '';
  const preselect = view.choice === null ? '' : `<p class="notice">${escapeHtml(p.preselected(view.choice))}</p>`;
  return `<section class="card">${preselect}<p class="muted">${escapeHtml(p.confirmHint)}</p><div class="actions">
<form method="post" action="${escapeHtml(action)}">${hidden}<input type="hidden" name="decision" value="approve">${nameField.replace('id="name"', 'id="name-approve"').replace('for="name"', 'for="name-approve"')}<button type="submit" class="approve${view.choice === 'approve' ? ' selected' : ''}">${escapeHtml(p.approve)}</button></form>
<form method="post" action="${escapeHtml(action)}">${hidden}<input type="hidden" name="decision" value="deny"><div class="field"><label for="denial_reason">${escapeHtml(p.denyReason)}</label><textarea id="denial_reason" name="denial_reason" maxlength="1000"></textarea></div>${nameField.replace('id="name"', 'id="name-deny"').replace('for="name"', 'for="name-deny"')}<button type="submit" class="deny${view.choice === 'deny' ? ' selected' : ''}">${escapeHtml(p.deny)}</button></form>
</div></section>`;
}

function approvalSummary(catalog: MessageCatalog, approval: ApprovalRecord, now: number): string {
  const p = catalog.page;
  return `<dl><dt>${escapeHtml(p.action)}</dt><dd>${escapeHtml(catalog.actionTitle(approval.action))} <span class="muted">(${escapeHtml(approval.action)})</span></dd><dt>${escapeHtml(p.reason)}</dt><dd>${escapeHtml(approval.reason)}</dd><dt>${escapeHtml(p.urgency)}</dt><dd><span class="badge urgency-${escapeHtml(approval.urgency)}">${escapeHtml(p.urgencyLevel(approval.urgency))}</span></dd></dl><p class="muted">${escapeHtml(p.expires(catalog.dateTime(approval.expiresAt), catalog.duration(approval.expiresAt - now)))}</p>`;
}

function decidedNotice(catalog: MessageCatalog, approval: ApprovalRecord): string {
  const p = catalog.page;
  if (approval.status === 'expired') return `<p class="notice bad">${escapeHtml(p.expiredBody)}</p>`;
  const text = p.alreadyDecided(approval.status, approval.decidedBy ?? 'operator', catalog.dateTime(approval.decidedAt ?? 0));
  const reason = approval.status === 'denied' && approval.denialReason !== null ? `<p>${escapeHtml(p.reason)}: ${escapeHtml(approval.denialReason)}</p>` : '';
  return `<p class="notice ${approval.status === 'approved' ? 'good' : 'bad'}">${escapeHtml(text)}</p>${reason}`;
}

/** `GET /operator/action` for a notification, an approval (with its forms) or an account-status link. */
export function renderOperatorPage(page: PageContext, view: OperatorView, formAction: string): string {
  const { catalog } = page;
  const p = catalog.page;
  if (view.kind === 'status') {
    const body = `<section class="card"><h1>${escapeHtml(p.statusTitle)}</h1><p class="notice bad">${escapeHtml(view.summary)}</p></section>${suggestionsCard(catalog, view.suggestions)}${accountCard(catalog, view.account)}`;
    return layout(page, p.statusTitle, body);
  }
  const { notification, approval } = view;
  const title = approval === null ? p.operatorTitle : p.approvalTitle(catalog.actionTitle(approval.action));
  const context =
    view.context.state === 'ok'
      ? `<pre>${escapedJson(view.context.value)}</pre>`
      : view.context.state === 'unavailable'
        ? `<p class="notice bad">${escapeRecurring(p.contextUnavailable)}</p>`
        : `<p class="muted">${escapeRecurring(p.noContext)}</p>`;
  const head =
    approval === null
      ? `<section class="card"><h1>${escapeRecurring(title)}</h1><h2>${escapeRecurring(p.issue)}</h2><p class="issue">${escapeHtml(notification.issue)}</p><p class="muted">${escapeHtml(p.expires(catalog.dateTime(notification.expiresAt), catalog.duration(notification.expiresAt - view.now)))}</p></section>`
      : `<section class="card"><h1>${escapeRecurring(title)}</h1>${notification.issue !== approval.reason ? `<p class="issue">${escapeHtml(notification.issue)}</p>` : ''}${approvalSummary(catalog, approval, view.now)}</section>`;
  const decision = approval === null ? '' : approval.status === 'pending' ? decisionForms(catalog, view, formAction) : `<section class="card">${decidedNotice(catalog, approval)}</section>`;
  const body = `${head}${decision}<section class="card"><h2>${escapeRecurring(p.context)}</h2>${context}</section>${suggestionsCard(catalog, view.suggestions)}${accountCard(catalog, view.account)}`;
  return layout(page, title, body);
}

/** The page after a POST: recorded, already decided (409) or expired (410). */
export function renderDecisionPage(page: PageContext, approval: ApprovalRecord, outcome: 'recorded' | 'conflict' | 'expired'): string {
  const { catalog } = page;
  const p = catalog.page;
  const title = outcome === 'expired' ? p.expiredTitle : approval.status === 'approved' ? p.approvedTitle : approval.status === 'denied' ? p.deniedTitle : p.expiredTitle;
  const notice = outcome === 'recorded' ? `<p class="notice good">${escapeHtml(p.decisionRecorded)}</p>` : decidedNotice(catalog, approval);
  const body = `<section class="card"><h1>${escapeHtml(title)}</h1>${notice}<dl><dt>${escapeHtml(p.action)}</dt><dd>${escapeHtml(catalog.actionTitle(approval.action))}</dd><dt>${escapeHtml(p.reason)}</dt><dd>${escapeHtml(approval.reason)}</dd></dl></section>`;
  return layout(page, title, body);
}

/** `GET /upgrade`. */
export function renderUpgradePage(page: PageContext, view: UpgradeView): string {
  const { catalog } = page;
  const p = catalog.page;
  const title = p.upgradeTitle(view.target.label);
  const unlocks = view.unlocks.length === 0 ? '' : `<section class="card"><h2>${escapeHtml(p.unlocks)}</h2><ul>${view.unlocks.map((u) => `<li>${escapeHtml(u.description)}</li>`).join('')}</ul></section>`;
  const action = view.alreadyOnTier
    ? `<p class="notice good">${escapeHtml(p.alreadyOnTier)}</p>`
    : view.checkoutUrl !== null
      ? `<a class="button" href="${escapeHtml(view.checkoutUrl)}" rel="noopener noreferrer">${escapeHtml(p.checkout)}</a>`
      : `<p class="notice">${escapeHtml(p.noCheckout)}</p>`;
  const body = `<section class="card"><h1>${escapeHtml(title)}</h1><dl><dt>${escapeHtml(p.currentTier)}</dt><dd>${escapeHtml(view.current.label)}</dd><dt>${escapeHtml(p.targetTier)}</dt><dd>${escapeHtml(view.target.label)}</dd></dl></section>${unlocks}<section class="card">${action}<p class="muted">${escapeHtml(p.expires(catalog.dateTime(view.expiresAt), catalog.duration(view.expiresAt - view.now)))}</p></section>${accountCard(catalog, view.account)}`;
  return layout(page, title, body);
}

/** A page for an error code (invalid/expired link, forgery, not found, unavailable). */
export function renderErrorPage(page: PageContext, code: string): string {
  const { catalog } = page;
  const p = catalog.page;
  const [title, text] =
    code === 'LINK_INVALID'
      ? [p.linkInvalidTitle, p.linkInvalidBody]
      : code === 'LINK_EXPIRED'
        ? [p.linkExpiredTitle, p.linkExpiredBody]
        : code === 'LINK_SCOPE_MISMATCH'
          ? [p.linkScopeTitle, p.linkScopeBody]
          : code === 'CSRF_REJECTED'
            ? [p.forbiddenTitle, p.forbiddenBody]
            : code === 'NOT_FOUND'
              ? [p.notFoundTitle, p.linkInvalidBody]
              : code === 'STORE_UNAVAILABLE' || code === 'RATE_LIMITED'
                ? [p.unavailableTitle, p.unavailableBody]
                : [p.errorTitle, p.errorBody];
  return layout(page, title, `<section class="card"><h1>${escapeHtml(title)}</h1><p class="notice bad">${escapeHtml(text)}</p></section>`);
}
