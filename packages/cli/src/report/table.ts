/**
 * A plain-text table: columns padded to their content; when the table would be wider
 * than the terminal, the flexible columns narrow and their cells wrap onto more lines
 * (or, with `wrap: false`, are cut with "…"). Colour is applied after padding, so
 * escape codes never disturb the alignment.
 */

/** One column. */
export interface Column {
  readonly header: string;
  /** Whether it may be narrowed to fit (default false). */
  readonly flex?: boolean;
  /** Its narrowest width when narrowed (default 10). */
  readonly min?: number;
}

/** Options of {@link renderTable}. */
export interface TableOptions {
  /** Widest line; flexible columns narrow to fit. Default: no limit. */
  readonly maxWidth?: number | undefined;
  /** Wrap narrowed cells onto more lines (default true) instead of cutting them. */
  readonly wrap?: boolean | undefined;
  /** Styles a padded cell; `row` is −1 for the header. */
  readonly paint?: ((column: number, row: number, text: string) => string) | undefined;
}

const GAP = '  ';

/** `text` cut to `width` characters, ending with "…" when cut. */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** `text` in lines of at most `width` characters, broken at spaces where possible. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 3 ? space : width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  lines.push(rest);
  return lines;
}

function fitWidths(columns: readonly Column[], natural: number[], maxWidth: number | undefined): number[] {
  const widths = [...natural];
  if (maxWidth === undefined) return widths;
  let overflow = widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1) - maxWidth;
  // Narrow the widest flexible column, one character at a time, until the table fits.
  while (overflow > 0) {
    let widest = -1;
    for (const [i, c] of columns.entries()) {
      if (c.flex === true && widths[i]! > (c.min ?? 10) && (widest === -1 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest === -1) break;
    widths[widest]! -= 1;
    overflow -= 1;
  }
  return widths;
}

/** Renders `rows` under `columns`, with a trailing newline. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const clean = rows.map((row) => columns.map((_, i) => (row[i] ?? '').replace(/[\r\n\t]+/g, ' ')));
  const natural = columns.map((c, i) => Math.max(c.header.length, ...clean.map((row) => row[i]!.length)));
  const widths = fitWidths(columns, natural, options.maxWidth);
  const wrap = options.wrap !== false;
  const paint = options.paint ?? ((_c: number, _r: number, text: string) => text);

  const line = (cells: readonly string[], row: number) => {
    // Empty cells at the end are left out and the last cell is not padded: no trailing spaces.
    let last = cells.length - 1;
    while (last > 0 && cells[last] === '') last--;
    return cells
      .slice(0, last + 1)
      // Continuation lines of a wrapped row leave some cells blank: those are not painted.
      .map((cell, i) => (cell === '' ? cell.padEnd(widths[i]!) : paint(i, row, i === last ? cell : cell.padEnd(widths[i]!))))
      .join(GAP);
  };
  const out = [line(columns.map((c) => c.header), -1)];
  let wrapped = false;
  for (const [r, row] of clean.entries()) {
    const cells = row.map((cell, i) => (wrap ? wrapText(cell, widths[i]!) : [truncate(cell, widths[i]!)]));
    const height = Math.max(...cells.map((c) => c.length));
    // Rows that take several lines are set apart by an empty line.
    if (height > 1 && r > 0 && !wrapped) out.push('');
    for (let l = 0; l < height; l++) out.push(line(cells.map((c) => c[l] ?? ''), r));
    if (height > 1) out.push('');
    wrapped = height > 1;
  }
  while (out.at(-1) === '') out.pop();
  return `${out.join('\n')}\n`;
}
