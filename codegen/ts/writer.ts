// An indentation-aware code writer: the TypeScript backend builds its text line by line.

export class CodeWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  constructor(private readonly unit = '  ') {}

  /** One line at the current indentation (an empty string writes an empty line). */
  line(text = ''): this {
    this.lines.push(text === '' ? '' : this.unit.repeat(this.depth) + text);
    return this;
  }

  /** The body one level deeper. */
  indent(body: () => void): this {
    this.depth++;
    body();
    this.depth--;
    return this;
  }

  /** `open`, then the body one level deeper, then `close`. */
  block(open: string, body: () => void, close = '}'): this {
    return this.line(open).indent(body).line(close);
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}
