// Markdown output: tables, target verdicts and the RESULTS.md file.

/** A markdown table from a header row and rows of cells. */
export function markdownTable(columns, rows) {
  const escape = (cell) => String(cell ?? '').replaceAll('|', '\\|');
  const lines = [`| ${columns.map(escape).join(' | ')} |`, `|${columns.map((c, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map(escape).join(' | ')} |`);
  return lines.join('\n');
}

/** One section of output per part: its tables, targets and notes. */
export function partMarkdown(part) {
  const out = [`## ${part.title}`, ''];
  if (part.skipped) {
    out.push(`Skipped: ${part.skipped}`, '');
    return out.join('\n');
  }
  for (const table of part.tables ?? []) {
    if (table.title) out.push(`**${table.title}**`, '');
    out.push(markdownTable(table.columns, table.rows), '');
    if (table.caption) out.push(table.caption, '');
  }
  for (const note of part.notes ?? []) out.push(`- ${note}`);
  if ((part.notes ?? []).length > 0) out.push('');
  return out.join('\n');
}

/** The verdict table of every target. */
export function targetsMarkdown(targets) {
  if (targets.length === 0) return 'No target was measured in this run.\n';
  const rows = targets.map((t) => [t.part, t.name, t.measured, t.required, t.pass === null ? 'n/a' : t.pass ? '**pass**' : '**FAIL**', t.note ?? '']);
  return `${markdownTable(['part', 'target', 'measured', 'required', 'verdict', 'note'], rows)}\n`;
}
