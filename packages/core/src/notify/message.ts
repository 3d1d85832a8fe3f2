/**
 * The operator message: what tiergate sends the human when an agent calls
 * notify-operator or asks for approval. It is rendered once, as data — a
 * subject, plain text, HTML and a chat form — from the message catalog, and
 * handed to the host's notifiers (e-mail, Slack, Discord, anything). The
 * Approve / Deny links open the operator page with that choice preselected;
 * the page still asks for the confirming click, because mail scanners fetch
 * every link.
 */
import type { ApprovalRecord, Urgency } from '../approvals/state.js';
import type { MessageCatalog } from '../policy/messages.js';
import { contextHighlights, escapeHtml } from '../render/html.js';

/** Kinds of operator message. */
export type OperatorMessageKind = 'notification' | 'approval_request' | 'approval_reminder';

/** A link button. `style` hints the chat renderers. */
export interface MessageButton {
  readonly label: string;
  readonly url: string;
  readonly style: 'primary' | 'danger' | 'default';
}

/** The message, ready for any channel. Text fields are plain (not escaped); `html` is escaped. */
export interface OperatorMessage {
  /** Stable id (the outbox `msg_…`), the same on every retry: use it to de-duplicate. */
  readonly id: string;
  readonly kind: OperatorMessageKind;
  readonly accountId: string;
  readonly notificationId: string;
  readonly approvalId: string | null;
  /** The account's operator e-mail, when the host knows it. */
  readonly operatorEmail: string | null;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Structured form for chat tools (Slack Block Kit, Discord embeds). */
  readonly chat: {
    readonly title: string;
    readonly intro: string;
    readonly body: string;
    readonly fields: readonly { readonly name: string; readonly value: string }[];
    readonly buttons: readonly MessageButton[];
    readonly footer: string;
  };
  /** The operator page, and for approvals the page with Approve / Deny preselected. */
  readonly links: { readonly review: string; readonly approve: string | null; readonly deny: string | null };
  readonly urgency: Urgency | null;
  readonly expiresAt: number;
}

/** Everything the renderer reads. */
export interface OperatorMessageInput {
  readonly id: string;
  readonly kind: OperatorMessageKind;
  readonly accountId: string;
  readonly notificationId: string;
  readonly issue: string;
  readonly actionLabel: string;
  /** Decrypted context, or `undefined` when none / unavailable. */
  readonly context: unknown;
  readonly approval: ApprovalRecord | null;
  readonly operatorEmail: string | null;
  readonly reviewUrl: string;
  readonly expiresAt: number;
  readonly now: number;
}

/** Renders an operator message from the catalog. Pure. */
export function renderOperatorMessage(catalog: MessageCatalog, input: OperatorMessageInput): OperatorMessage {
  const t = catalog.notification;
  const p = catalog.page;
  const approval = input.approval;
  const left = catalog.duration(input.expiresAt - input.now);
  const isApproval = approval !== null && input.kind !== 'notification';
  const actionTitle = approval === null ? '' : catalog.actionTitle(approval.action);
  const subject =
    input.kind === 'approval_reminder' ? t.reminderSubject(actionTitle) : isApproval ? t.approvalSubject(actionTitle) : t.notificationSubject(input.issue);
  const intro = input.kind === 'approval_reminder' ? t.reminderIntro(left) : isApproval ? t.approvalIntro : t.notificationIntro;

  const fields: { name: string; value: string }[] = [];
  if (approval !== null && isApproval) {
    fields.push({ name: p.action, value: actionTitle });
    fields.push({ name: p.reason, value: approval.reason });
    for (const [name, value] of contextHighlights(input.context)) fields.push({ name, value });
    fields.push({ name: p.urgency, value: p.urgencyLevel(approval.urgency) });
  } else {
    for (const [name, value] of contextHighlights(input.context)) fields.push({ name, value });
  }
  const approveUrl = isApproval ? `${input.reviewUrl}&choice=approve` : null;
  const denyUrl = isApproval ? `${input.reviewUrl}&choice=deny` : null;
  const buttons: MessageButton[] =
    approveUrl !== null && denyUrl !== null
      ? [
          { label: t.approveButton, url: approveUrl, style: 'primary' },
          { label: t.denyButton, url: denyUrl, style: 'danger' },
        ]
      : [{ label: input.actionLabel || t.reviewButton, url: input.reviewUrl, style: 'primary' }];
  const footer = t.expiresIn(left);
  // An approval's issue defaults to its reason (already a field); show it only when the agent wrote a separate one.
  const body = isApproval && approval !== null ? (input.issue !== approval.reason ? input.issue : '') : input.issue;

  const textLines = [intro, ''];
  if (body !== '') textLines.push(body, '');
  for (const f of fields) textLines.push(`${f.name}: ${f.value}`);
  if (fields.length > 0) textLines.push('');
  for (const b of buttons) textLines.push(`${b.label}: ${b.url}`);
  textLines.push('', footer);

  const html = [
    `<!doctype html><html lang="${escapeHtml(catalog.locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328;line-height:1.5;margin:0;padding:16px">',
    `<div style="max-width:560px;margin:0 auto">`,
    `<p style="margin:0 0 12px">${escapeHtml(intro)}</p>`,
    body === '' ? '' : `<p style="margin:0 0 12px;white-space:pre-wrap;overflow-wrap:anywhere">${escapeHtml(body)}</p>`,
    fields.length === 0
      ? ''
      : `<table role="presentation" style="border-collapse:collapse;margin:0 0 16px">${fields
          .map(
            (f) =>
              `<tr><td style="padding:2px 12px 2px 0;color:#57606a;vertical-align:top">${escapeHtml(f.name)}</td><td style="padding:2px 0;overflow-wrap:anywhere">${escapeHtml(f.value)}</td></tr>`,
          )
          .join('')}</table>`,
    `<p style="margin:0 0 16px">${buttons
      .map(
        (b) =>
          `<a href="${escapeHtml(b.url)}" style="display:inline-block;margin:0 8px 8px 0;padding:10px 16px;border-radius:6px;text-decoration:none;font-weight:600;color:#fff;background:${b.style === 'danger' ? '#cf222e' : '#1f6feb'}">${escapeHtml(b.label)}</a>`,
      )
      .join('')}</p>`,
    `<p style="margin:0;color:#57606a;font-size:14px">${escapeHtml(footer)}</p>`,
    '</div></body></html>',
  ].join('');

  return {
    id: input.id,
    kind: input.kind,
    accountId: input.accountId,
    notificationId: input.notificationId,
    approvalId: approval?.id ?? null,
    operatorEmail: input.operatorEmail,
    subject,
    text: textLines.join('\n'),
    html,
    chat: { title: subject, intro, body, fields, buttons, footer },
    links: { review: input.reviewUrl, approve: approveUrl, deny: denyUrl },
    urgency: approval?.urgency ?? null,
    expiresAt: input.expiresAt,
  };
}
