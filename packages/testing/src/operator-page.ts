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
