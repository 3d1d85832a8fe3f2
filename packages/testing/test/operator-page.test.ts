import { describe, expect, it } from 'vitest';
import { escapeHtml } from '@tiergate/core';
import { decisionForm, decodeEntities, parseForms } from '@tiergate/testing';

const page = `<html><body>
<form method="get" action="/search"><input name="q" value="x"></form>
<form method="post" action="/tg/operator/action?x=1&amp;y=2"><input type="hidden" name="token" value="a.b.c"><input type="hidden" name="form_token" value="f&#39;t"><input type="hidden" name="decision" value="approve"><button>Approve</button></form>
<form method="post" action="/tg/operator/action"><input type="hidden" name="token" value="a.b.c"><input type="hidden" name="form_token" value="f&#39;t"><input type="hidden" name="decision" value="deny"><textarea name="denial_reason"></textarea></form>
</body></html>`;

describe('operator page readers', () => {
  it('decodeEntities undoes escapeHtml', () => {
    const text = `<a href="x">'&\`</a>`;
    expect(decodeEntities(escapeHtml(text))).toBe(text);
  });

  it('parseForms reads the post forms with their fields, entities decoded', () => {
    expect(parseForms(page)).toEqual([
      { action: '/tg/operator/action?x=1&y=2', fields: { token: 'a.b.c', form_token: "f't", decision: 'approve' } },
      { action: '/tg/operator/action', fields: { token: 'a.b.c', form_token: "f't", decision: 'deny', denial_reason: '' } },
    ]);
  });

  it('decisionForm takes the first form with both tokens, and throws without one', () => {
    expect(decisionForm(page)).toEqual({ action: '/tg/operator/action?x=1&y=2', token: 'a.b.c', formToken: "f't" });
    expect(() => decisionForm('<form method="post" action="/x"><input name="token" value="t"></form>')).toThrow('no decision form');
  });
});
