/**
 * What a browser does with an operator link, for the example tests: GET the
 * page, read its forms (hidden `token` and `form_token`), and POST the chosen
 * form as `application/x-www-form-urlencoded` with the page's origin — no
 * server internals involved.
 */
import { parseForms, type OperatorForm } from '@tiergate/testing';

/** The operator page as a browser sees it. */
export interface OperatorPage {
  readonly status: number;
  readonly html: string;
  /** The approve and deny forms (absent when the approval is no longer pending, or for a plain notification). */
  readonly approve: OperatorForm | undefined;
  readonly deny: OperatorForm | undefined;
}

/** GETs an operator link as a browser would. */
export async function openOperatorPage(link: string): Promise<OperatorPage> {
  const response = await fetch(link, { headers: { accept: 'text/html' }, redirect: 'manual' });
  const html = await response.text();
  const forms = parseForms(html);
  return {
    status: response.status,
    html,
    approve: forms.find((f) => f.fields['decision'] === 'approve'),
    deny: forms.find((f) => f.fields['decision'] === 'deny'),
  };
}

/**
 * Opens `link` and submits its Approve or Deny form, exactly as a browser on
 * that page would (same origin, form encoding). Returns the decision page's
 * status and HTML.
 */
export async function decideThroughPage(link: string, decision: 'approve' | 'deny', typed: { readonly denial_reason?: string; readonly name?: string } = {}): Promise<{ status: number; html: string }> {
  const page = await openOperatorPage(link);
  if (page.status !== 200) throw new Error(`operator page answered ${page.status}`);
  const form = decision === 'approve' ? page.approve : page.deny;
  if (form === undefined) throw new Error(`the operator page has no ${decision} form`);
  const origin = new URL(link).origin;
  const body = new URLSearchParams({ ...form.fields, ...typed });
  const response = await fetch(new URL(form.action, link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin, 'sec-fetch-site': 'same-origin', accept: 'text/html' },
    body: body.toString(),
    redirect: 'manual',
  });
  return { status: response.status, html: await response.text() };
}

/** Polls `probe` until it returns a value other than `undefined` (bounded; fails with `what` after `timeoutMs`). */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
