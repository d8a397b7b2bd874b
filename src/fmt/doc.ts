// A small Wadler-style pretty printer: layout documents, groups that break when too wide, comments.
//
// A document is text, a concatenation, or a directive: `line` (a space, or a line break when its
// group breaks), `group` (laid out flat if it fits in the width, else broken), `align` (continuation
// lines start at the column where the aligned part starts), `indent` (two more spaces), `fill`
// (separators break only where the next item would not fit). Comments: `trailing` ends the current
// line with a comment, and the next text goes to a new line; `own` is a comment on a line of its
// own; `blank` is one empty line. Trailing comments do not count toward the width; those of
// consecutive lines line up (see `finish`).

export type Doc = string | readonly Doc[] | Directive;

type Directive =
  | { readonly t: 'line' }
  | { readonly t: 'hardline' }
  | { readonly t: 'blank' }
  | { readonly t: 'group'; readonly doc: Doc; readonly brk: boolean; readonly end: boolean }
  | { readonly t: 'align'; readonly doc: Doc }
  | { readonly t: 'indent'; readonly doc: Doc }
  | { readonly t: 'fill'; readonly parts: readonly Doc[]; readonly from: number }
  | { readonly t: 'trailing'; readonly text: string }
  | { readonly t: 'own'; readonly text: string };

export const line: Doc = { t: 'line' };
export const hardline: Doc = { t: 'hardline' };
export const blank: Doc = { t: 'blank' };

/**
 * Laid out flat when it fits, otherwise broken. `force` breaks it always. A group also breaks when
 * it holds a line break of its own: a hard line, an own-line comment, or a trailing comment that
 * has more text after it inside the group (one at the very end does not force a break).
 */
export function group(doc: Doc, force = false): Doc {
  const state = breakState(doc);
  return { t: 'group', doc, brk: force || state === 'yes', end: state === 'end' };
}

export function align(doc: Doc): Doc {
  return { t: 'align', doc };
}

export function indent(doc: Doc): Doc {
  return { t: 'indent', doc };
}

/** Items and separators, alternating (`[item, sep, item, sep, item]`). */
export function fill(parts: readonly Doc[]): Doc {
  return { t: 'fill', parts, from: 0 };
}

export function trailing(text: string): Doc {
  return { t: 'trailing', text };
}

export function own(text: string): Doc {
  return { t: 'own', text };
}

/** Joins docs with a separator. */
export function join(sep: Doc, docs: readonly Doc[]): Doc[] {
  const out: Doc[] = [];
  docs.forEach((d, i) => {
    if (i > 0) out.push(sep);
    out.push(d);
  });
  return out;
}

// --- Forced breaks ---------------------------------------------------------------------------

/** 'yes': holds a forced break; 'end': only a trailing comment with nothing printed after it. */
type BreakState = 'none' | 'end' | 'yes';

function breakState(doc: Doc): BreakState {
  if (typeof doc === 'string') return 'none';
  if (Array.isArray(doc)) {
    let state: BreakState = 'none';
    for (const d of doc as readonly Doc[]) {
      const s = breakState(d);
      if (s === 'yes') return 'yes';
      if (state === 'end' && hasText(d)) return 'yes';
      if (s === 'end') state = 'end';
    }
    return state;
  }
  const dir = doc as Directive;
  switch (dir.t) {
    case 'hardline':
    case 'blank':
    case 'own':
      return 'yes';
    case 'trailing':
      return 'end';
    case 'line':
      return 'none';
    case 'group':
      return dir.brk ? 'yes' : dir.end ? 'end' : 'none';
    case 'align':
    case 'indent':
      return breakState(dir.doc);
    case 'fill':
      return breakState(dir.parts.slice(dir.from));
  }
}

/** Does the doc print any non-space text? */
function hasText(doc: Doc): boolean {
  if (typeof doc === 'string') return doc.trim() !== '';
  if (Array.isArray(doc)) return (doc as readonly Doc[]).some(hasText);
  const dir = doc as Directive;
  switch (dir.t) {
    case 'group':
    case 'align':
    case 'indent':
      return hasText(dir.doc);
    case 'fill':
      return dir.parts.slice(dir.from).some(hasText);
    case 'own':
      return true;
    default:
      return false;
  }
}

// --- Printing --------------------------------------------------------------------------------

const BREAK = 0;
const FLAT = 1;
type Mode = typeof BREAK | typeof FLAT;

interface Cmd {
  readonly ind: number;
  readonly mode: Mode;
  readonly doc: Doc;
}

interface OutLine {
  ind: number;
  code: string;
  comment?: string;
  /** The line holds only an own-line comment. */
  ownComment?: boolean;
  blank?: boolean;
}

/** Lays the document out in `width` columns; returns the text with a final newline (or ''). */
export function render(doc: Doc, width: number): string {
  return new Printer(width).print(doc);
}

class Printer {
  private readonly lines: OutLine[] = [];
  private cur: OutLine = { ind: 0, code: '' };
  /** A trailing or own-line comment ended the line: the next text starts a new one. */
  private needNewline = false;

  constructor(private readonly width: number) {}

  print(doc: Doc): string {
    const cmds: Cmd[] = [{ ind: 0, mode: BREAK, doc }];
    while (cmds.length > 0) {
      const { ind, mode, doc: d } = cmds.pop()!;
      if (typeof d === 'string') {
        this.text(d, ind);
        continue;
      }
      if (Array.isArray(d)) {
        const list = d as readonly Doc[];
        for (let i = list.length - 1; i >= 0; i--) cmds.push({ ind, mode, doc: list[i]! });
        continue;
      }
      const dir = d as Directive;
      switch (dir.t) {
        case 'line':
          if (mode === FLAT) this.text(' ', ind);
          else this.newline(ind);
          break;
        case 'hardline':
          this.newline(ind);
          break;
        case 'blank':
          this.blank(ind);
          break;
        case 'group': {
          // NOTE: a forced break holds even inside a flat group (whose measure stopped there).
          if (dir.brk) cmds.push({ ind, mode: BREAK, doc: dir.doc });
          else if (mode === FLAT) cmds.push({ ind, mode: FLAT, doc: dir.doc });
          else {
            const flat: Cmd = { ind, mode: FLAT, doc: dir.doc };
            cmds.push(this.fits(flat, cmds) ? flat : { ind, mode: BREAK, doc: dir.doc });
          }
          break;
        }
        case 'align':
          cmds.push({ ind: this.column(), mode, doc: dir.doc });
          break;
        case 'indent':
          cmds.push({ ind: ind + 2, mode, doc: dir.doc });
          break;
        case 'fill':
          this.fill(dir.parts, dir.from, ind, mode, cmds);
          break;
        case 'trailing':
          this.cur.comment = dir.text;
          this.needNewline = true;
          break;
        case 'own':
          this.newline(ind);
          this.cur.code = dir.text;
          this.cur.ownComment = true;
          this.needNewline = true;
          break;
      }
    }
    this.flushLine();
    while (this.lines.length > 0 && this.lines[this.lines.length - 1]!.blank) this.lines.pop();
    return finish(this.lines);
  }

  /** Prettier's fill: a separator breaks when the item after it would not fit on the line. */
  private fill(parts: readonly Doc[], from: number, ind: number, mode: Mode, cmds: Cmd[]): void {
    const n = parts.length - from;
    if (n <= 0) return;
    const content = parts[from]!;
    const contentFlat: Cmd = { ind, mode: FLAT, doc: content };
    const contentBreak: Cmd = { ind, mode: BREAK, doc: content };
    const contentFits = this.fits(contentFlat, n === 1 ? cmds : []);
    if (n === 1) {
      cmds.push(contentFits ? contentFlat : contentBreak);
      return;
    }
    const sep = parts[from + 1]!;
    const sepFlat: Cmd = { ind, mode: FLAT, doc: sep };
    const sepBreak: Cmd = { ind, mode: BREAK, doc: sep };
    if (n === 2) {
      cmds.push(contentFits ? sepFlat : sepBreak, contentFits ? contentFlat : contentBreak);
      return;
    }
    const rest: Cmd = { ind, mode, doc: { t: 'fill', parts, from: from + 2 } };
    const pair: Cmd = { ind, mode: FLAT, doc: [content, sep, parts[from + 2]!] };
    if (this.fits(pair, n === 3 ? cmds : [])) cmds.push(rest, sepFlat, contentFlat);
    else if (contentFits) cmds.push(rest, sepBreak, contentFlat);
    else cmds.push(rest, sepBreak, contentBreak);
  }

  /** Does `next` fit in what is left of the line, up to the first line break after it? */
  private fits(next: Cmd, rest: readonly Cmd[]): boolean {
    let remaining = this.width - this.column();
    let restIdx = rest.length - 1;
    const stack: { mode: Mode; doc: Doc }[] = [{ mode: next.mode, doc: next.doc }];
    while (remaining >= 0) {
      if (stack.length === 0) {
        if (restIdx < 0) return true;
        const c = rest[restIdx--]!;
        stack.push({ mode: c.mode, doc: c.doc });
        continue;
      }
      const { mode, doc } = stack.pop()!;
      if (typeof doc === 'string') {
        remaining -= doc.length;
        continue;
      }
      if (Array.isArray(doc)) {
        const list = doc as readonly Doc[];
        for (let i = list.length - 1; i >= 0; i--) stack.push({ mode, doc: list[i]! });
        continue;
      }
      const dir = doc as Directive;
      switch (dir.t) {
        case 'line':
          if (mode === BREAK) return true;
          remaining -= 1;
          break;
        case 'hardline':
        case 'blank':
        case 'trailing':
        case 'own':
          return true;
        case 'group':
          stack.push({ mode: dir.brk ? BREAK : mode, doc: dir.doc });
          break;
        case 'align':
        case 'indent':
          stack.push({ mode, doc: dir.doc });
          break;
        case 'fill':
          for (let i = dir.parts.length - 1; i >= dir.from; i--) {
            stack.push({ mode, doc: dir.parts[i]! });
          }
          break;
      }
    }
    return false;
  }

  private column(): number {
    return this.cur.ind + this.cur.code.length;
  }

  private text(s: string, ind: number): void {
    if (s === '') return;
    const spaces = s.trim() === '';
    if (this.needNewline) {
      // NOTE: spaces stay (they count for `align`) until the line ends, which trims them.
      if (spaces) {
        this.cur.code += s;
        return;
      }
      this.newline(ind);
    }
    // NOTE: a line never starts with spaces: its indentation says where it starts.
    if (spaces && this.cur.code === '') return;
    this.cur.code += s;
  }

  /** Ends the line (an empty one is only re-indented). */
  private newline(ind: number): void {
    this.needNewline = false;
    if (this.cur.code === '' && this.cur.comment === undefined) {
      this.cur.ind = ind;
      return;
    }
    this.flushLine();
    this.cur = { ind, code: '' };
  }

  /** One empty line (never two in a row, never at the start); the next line starts at `ind`. */
  private blank(ind: number): void {
    this.newline(ind);
    const last = this.lines[this.lines.length - 1];
    if (last !== undefined && !last.blank) this.lines.push({ ind: 0, code: '', blank: true });
  }

  private flushLine(): void {
    if (this.cur.code === '' && this.cur.comment === undefined) return;
    this.cur.code = this.cur.code.trimEnd();
    this.lines.push(this.cur);
  }
}

/**
 * Joins the lines. Trailing comments line up in groups: the comment-bearing lines of a paragraph
 * (lines up to a blank line), split where a line's code runs more than ALIGN_JUMP columns past
 * that of every line before it in the group; each group's comments start two columns after its
 * longest code.
 */
function finish(lines: readonly OutLine[]): string {
  const column = new Map<OutLine, number>();
  let groupLines: OutLine[] = [];
  let widest = -1;
  const close = (): void => {
    for (const l of groupLines) column.set(l, widest + 2);
    groupLines = [];
    widest = -1;
  };
  for (const l of lines) {
    if (l.blank) close();
    if (l.comment === undefined) continue;
    const w = codeWidth(l);
    if (widest >= 0 && w > widest + ALIGN_JUMP) close();
    groupLines.push(l);
    widest = Math.max(widest, w);
  }
  close();
  const out = lines.map((l) => {
    const code = l.code === '' ? '' : ' '.repeat(l.ind) + l.code;
    if (l.comment === undefined) return code;
    if (code === '') return ' '.repeat(l.ind) + l.comment;
    return code + ' '.repeat((column.get(l) ?? code.length + 2) - code.length) + l.comment;
  });
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** See `finish`: how far past a group's code a line may run and still join its comment column. */
const ALIGN_JUMP = 24;

function codeWidth(l: OutLine): number {
  return l.code === '' ? 0 : l.ind + l.code.length;
}
