/**
 * Reading an operator page the way a browser does, for tests that drive the
 * decision flow over HTTP: the page's post forms and their hidden fields.
 */

/** One `<form method="post">` of a page. */
export interface OperatorForm {
  /** The form's `action` attribute (a path), entities decoded. */
  readonly action: string;
  /** Its named inputs and textareas with their values (hidden fields, and empty text fields). */
  readonly fields: Readonly<Record<string, string>>;
}

/** What a decision POST needs from an operator page. */
export interface DecisionForm {
  readonly action: string;
  readonly token: string;
  readonly formToken: string;
}

const ENTITIES: Readonly<Record<string, string>> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x27;': "'", '&#96;': '`', '&#x60;': '`' };

/** Undoes `escapeHtml` (for reading attribute values and text out of a page). */
export function decodeEntities(value: string): string {
  return value.replace(/&(?:amp|lt|gt|quot|#39|#x27|#96|#x60);/g, (entity) => ENTITIES[entity] ?? entity);
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
}

/** The post forms of a page, in order. */
export function parseForms(html: string): OperatorForm[] {
  const forms: OperatorForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const [, open = '', inner = ''] = match;
    if (attribute(open, 'method')?.toLowerCase() !== 'post') continue;
    const fields: Record<string, string> = {};
    for (const input of inner.matchAll(/<(?:input|textarea)\b[^>]*>/gi)) {
      const name = attribute(input[0], 'name');
      if (name !== undefined && !(name in fields)) fields[name] = attribute(input[0], 'value') ?? '';
    }
    forms.push({ action: attribute(open, 'action') ?? '', fields });
  }
  return forms;
}

/** The decision form of an operator page (where it posts, its `token` and `form_token`); throws if the page has none. */
export function decisionForm(html: string): DecisionForm {
  for (const form of parseForms(html)) {
    const token = form.fields['token'];
    const formToken = form.fields['form_token'];
    if (token !== undefined && formToken !== undefined) return { action: form.action, token, formToken };
  }
  throw new Error('the page has no decision form');
}

/** What {@link approveOverHttp} did: the approval it asked for, and the status of the decision POST. */
export interface HttpApproval {
  readonly requestId: string;
  readonly decisionStatus: number;
}

/** Options of {@link approveOverHttp}. */
export interface ApproveOverHttpOptions {
  /** Where the server under test listens, e.g. `http://127.0.0.1:4321`. */
  readonly origin: string;
  /** Where tiergate is mounted on it, e.g. `/tiergate` (`''` for the root). */
  readonly mount: string;
  /** The agent's `Authorization` header. */
  readonly authorization: string;
  /** Added to the operator's decision POST (for example `X-Forwarded-For`, to check what an adapter passes on). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The approval flow over HTTP, as an agent and an operator's browser run it: asks for an approval, opens
 * its operator page (the link's path and query, on `origin`, whatever public URL the link names) and
 * approves it. Throws when a step before the decision does not answer as it should; the decision's own
 * status is the caller's to check.
 */
export async function approveOverHttp({ origin, mount, authorization, headers = {} }: ApproveOverHttpOptions): Promise<HttpApproval> {
  const created = await fetch(`${origin}${mount}/v1/notify-operator`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'approval_request', action: 'bulk_send', reason: 'Sending to 500 recipients', expiresIn: 3600 }),
  });
  if (created.status !== 201) throw new Error(`notify-operator answered ${created.status}: ${await created.text()}`);
  const { result } = (await created.json()) as { result: { request_id: string; operator_action_url: string } };
  const link = new URL(result.operator_action_url);
  const page = await fetch(`${origin}${link.pathname}${link.search}`);
  if (page.status !== 200) throw new Error(`the operator page answered ${page.status}`);
  const form = decisionForm(await page.text());
  const decided = await fetch(`${origin}${form.action}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: form.token, form_token: form.formToken, decision: 'approve' }).toString(),
  });
  return { requestId: result.request_id, decisionStatus: decided.status };
}
