// The front end proper: walks the AST of a file and builds one IR graph per network, expanding
// blocks and repeats, resolving attributes, naming layers as Keras does, and reporting errors.
import { InternalError } from '../diag/diagnostics.js';
import type {
  Arg,
  BlockDecl,
  CallExpr,
  Expr,
  InputStmt,
  OutputStmt,
  NetworkDecl,
  Program,
  Span,
  Stmt,
} from '../../grammar/ast.js';
import { Diagnostics } from '../diag/diagnostics.js';
import { ATTRIBUTE_ALIASES, didYouMean, LAYER_ALIASES } from '../diag/suggest.js';
import {
  formatShape,
  fromUserShape,
  size,
  toUserShape,
  type AttrValue,
  type DataFormat,
  type Graph,
  type Node,
  type Param,
  type Port,
  type Shape,
} from '../ir/graph.js';
import type { AttrSpec, InferContext, LayerDef } from '../ir/op.js';
import { LAYER_BY_KIND, PUBLIC_LAYERS, layer } from '../layers/registry.js';
import { resolveAttr } from './attrs.js';
import { describeValue, showValue, type Value } from './values.js';

/** The largest tensor (values per example) or weight netc accepts: 2^28 floats, 1 GiB. */
export const MAX_ELEMENTS = 2 ** 28;
const MAX_REPEAT = 100_000;
const MAX_DEPTH = 200;
/** Work units one network may take to expand (a statement is 2, a call 10): bounds the time
 * of `repeat` inside `repeat` and of blocks calling blocks twice over, which a small file can
 * make exponential. 10,000 chained layers take 100,000; `repeat 100000 { x = x -> relu }` 1.2M. */
export const MAX_WORK = 1_250_000;
/** All the weights of one network together: 2^28 floats (1 GiB), as for one tensor. */
export const MAX_TOTAL_WEIGHTS = 2 ** 28;

interface Scope {
  /** Name prefix of this block call: '' or 'conv_block_1/'. */
  readonly prefix: string;
  readonly counters: Map<string, number>;
  readonly env: Map<string, Value>;
  /** Blocks being expanded, outermost first (recursion check). */
  readonly stack: readonly string[];
  readonly block?: BlockDecl;
}

const placeholderWords = new Set(['None', 'none', 'null', 'NULL', 'Null']);

/** The longest network name: NAME.safetensors.PID.tmp must fit a file name (255 bytes). */
export const MAX_NETWORK_NAME = 200;

/** Builds the graphs of every network in a program. Errors go to `diags`. */
export function elaborate(program: Program, diags: Diagnostics): Graph[] {
  const blocks = new Map<string, BlockDecl>();
  for (const item of program.items) {
    if (item.kind !== 'block') continue;
    const name = item.name.text;
    if (blocks.has(name)) {
      diags.error(
        item.name.span,
        `block '${name}' is declared twice`,
        'give each block its own name',
      );
      continue;
    }
    if (LAYER_BY_KIND.has(name) && !LAYER_BY_KIND.get(name)!.internal) {
      diags.error(item.name.span, `block '${name}' has the name of a layer; rename the block`);
      continue;
    }
    checkBlock(item, diags);
    blocks.set(name, item);
  }
  const graphs: Graph[] = [];
  const seen = new Set<string>();
  for (const item of program.items) {
    if (item.kind !== 'network') continue;
    if (seen.has(item.name.text)) {
      diags.error(item.name.span, `network '${item.name.text}' is declared twice`);
      continue;
    }
    seen.add(item.name.text);
    if (item.name.text.length > MAX_NETWORK_NAME)
      diags.error(
        item.name.span,
        `network name is ${item.name.text.length} characters long; at most ${MAX_NETWORK_NAME}, since it names the module's files (NAME.js, NAME.wasm, ...)`,
        'choose a shorter name',
      );
    const before = diags.count;
    const g = new NetworkBuilder(item, blocks, diags).build();
    if (g && diags.count === before) graphs.push(g);
  }
  return graphs;
}

/** Block rules that do not depend on a call: parameters and the one final return. */
function checkBlock(block: BlockDecl, diags: Diagnostics): void {
  const names = new Set<string>();
  let defaulted = false;
  for (const p of block.params) {
    if (p.name.text === 'name')
      diags.error(
        p.name.span,
        `'name' is reserved and cannot be a block parameter`,
        `every call accepts name: "..." to name the call; pick another parameter name`,
      );
    if (names.has(p.name.text))
      diags.error(
        p.name.span,
        `parameter '${p.name.text}' appears twice in block '${block.name.text}'`,
      );
    names.add(p.name.text);
    if (p.default) defaulted = true;
    else if (defaulted)
      diags.error(
        p.name.span,
        `parameter '${p.name.text}' has no default but follows one that has`,
        'parameters with defaults come last',
      );
  }
  const returns = block.body.filter((s) => s.kind === 'return');
  const last = block.body[block.body.length - 1];
  if (returns.length === 0)
    diags.error(
      block.name.span,
      `block '${block.name.text}' has no return`,
      'end the block with return EXPR',
    );
  for (const r of returns)
    if (r !== last)
      diags.error(r.span, `return must be the last statement of block '${block.name.text}'`);
  for (const s of walk(block.body)) {
    if (s.kind === 'input' || s.kind === 'output')
      diags.error(
        s.span,
        `${s.kind} statements belong in a network, not in block '${block.name.text}'`,
        'a block takes tensors as parameters and gives one back with return',
      );
    if (s.kind === 'repeat')
      for (const r of s.body.filter((x) => x.kind === 'return'))
        diags.error(r.span, 'return cannot stand inside repeat');
  }
}

function* walk(stmts: readonly Stmt[]): Generator<Stmt> {
  for (const s of stmts) {
    yield s;
    if (s.kind === 'repeat') yield* walk(s.body);
  }
}

class NetworkBuilder {
  private readonly nodes: Node[] = [];
  private readonly params: Param[] = [];
  private readonly names = new Map<string, Span>();
  private readonly inputs: Port[] = [];
  private readonly outputs: Port[] = [];
  private dataFormat: DataFormat = 'channels_last';
  private batch: number | null = null;
  private depth = 0;
  /** Expansion work so far (see MAX_WORK); past the limit, nothing more is evaluated. */
  private work = 0;
  private exhausted = false;
  private weightFloats = 0;
  /** An input or output statement was seen (even a bad one, already reported). */
  private declaredInput = false;
  private declaredOutput = false;

  constructor(
    private readonly decl: NetworkDecl,
    private readonly blocks: ReadonlyMap<string, BlockDecl>,
    private readonly diags: Diagnostics,
  ) {}

  build(): Graph | null {
    this.readOptions();
    const scope: Scope = { prefix: '', counters: new Map(), env: new Map(), stack: [] };
    for (const s of this.decl.body) this.stmt(s, scope);
    if (!this.declaredInput && !this.exhausted)
      this.diags.error(
        this.decl.name.span,
        `network '${this.decl.name.text}' has no input`,
        'declare one: input image: [28, 28, 1]',
      );
    if (!this.declaredOutput && !this.exhausted)
      this.diags.error(
        this.decl.name.span,
        `network '${this.decl.name.text}' has no output`,
        'declare one: output probs = x -> dense(10) -> softmax',
      );
    return {
      name: this.decl.name.text,
      dataFormat: this.dataFormat,
      batch: this.batch,
      nodes: this.nodes,
      inputs: this.inputs,
      outputs: this.outputs,
      params: this.params,
      notes: [],
      span: this.decl.name.span,
    };
  }

  private error(span: Span, message: string, ...notes: string[]): Value {
    this.diags.error(span, message, ...notes);
    return { k: 'error', span };
  }

  private readOptions(): void {
    for (const opt of this.decl.options) {
      if (!opt.name) {
        this.error(
          opt.span,
          'network options are named: network n(data_format: channels_first, batch: 8)',
        );
        continue;
      }
      const v = this.expr(opt.value, {
        prefix: '',
        counters: new Map(),
        env: new Map(),
        stack: [],
      });
      const key = opt.name.text;
      if (key === 'data_format') {
        const r = resolveAttr(
          {
            name: key,
            kind: { type: 'enum', values: ['channels_last', 'channels_first'] },
            default: 'channels_last',
          },
          v,
          'data_format',
        );
        if (r.ok) this.dataFormat = r.value as DataFormat;
        else this.error(r.problem.span, r.problem.message);
      } else if (key === 'batch') {
        const r = resolveAttr(
          { name: key, kind: { type: 'int', min: 1 }, default: null },
          v,
          'batch',
        );
        if (r.ok) this.batch = r.value as number;
        else this.error(r.problem.span, r.problem.message);
      } else {
        const hint = didYouMean(key, ['data_format', 'batch']);
        this.error(
          opt.name.span,
          `unknown network option '${key}'` + (hint ? ` (did you mean '${hint}'?)` : ''),
          'network options: data_format (channels_last or channels_first), batch (a fixed batch size)',
        );
      }
    }
  }

  // ------------------------------------------------------------------------------ statements

  /** Counts expansion work; reports once (at `span`) when the network takes too much. */
  private spend(units: number, span: Span): boolean {
    if (this.exhausted) return false;
    this.work += units;
    if (this.work <= MAX_WORK) return true;
    this.exhausted = true;
    this.diags.error(
      span,
      `network '${this.decl.name.text}' expands to too many layers and statements (more than netc allows: ${MAX_WORK / 10} layer calls, or ${MAX_WORK / 2} statements); the expansion stops here`,
      'check repeat counts and blocks that call other blocks several times',
    );
    return false;
  }

  private stmt(s: Stmt, scope: Scope): void {
    if (!this.spend(2, s.span)) return;
    switch (s.kind) {
      case 'input':
        if (scope.block) return; // reported by checkBlock
        this.declaredInput = true;
        // A bad input still binds its name, so its uses add no follow-on errors.
        if (!this.input(s.name.text, this.portKey(s, scope), s.name.span, s.shape, scope))
          scope.env.set(s.name.text, { k: 'error', span: s.name.span });
        return;
      case 'assign':
        scope.env.set(s.name.text, this.expr(s.value, scope));
        return;
      case 'output': {
        if (scope.block) return;
        this.declaredOutput = true;
        let v: Value;
        if (s.value) {
          v = this.expr(s.value, scope);
          scope.env.set(s.name.text, v);
        } else {
          const bound = scope.env.get(s.name.text);
          v =
            bound ??
            this.error(
              s.name.span,
              `'${s.name.text}' is not bound` + this.nameHint(s.name.text, scope),
              `write output ${s.name.text} = EXPR, or bind ${s.name.text} first`,
            );
        }
        if (v.k === 'error') return;
        if (v.k === 'word' && (!s.value || s.value.kind === 'name')) {
          this.unbound(v.v, v.span, scope);
          return;
        }
        if (v.k !== 'tensor') {
          this.error(s.span, `output '${s.name.text}' must be a tensor, got ${describeValue(v)}`);
          return;
        }
        const key = this.portKey(s, scope);
        if (key === undefined) return;
        if (this.outputs.some((o) => o.name === key)) {
          this.error(s.name.span, `output '${key}' is declared twice`);
          return;
        }
        let node = this.nodes[v.node]!;
        // NOTE: the port shape is the user's view of the value, taken before the layout change.
        const shape = node.userShape;
        if (this.dataFormat === 'channels_first' && node.shape.length === 3 && !isUserLayout(node))
          node = this.hidden(
            'transpose',
            `${s.name.text}/~to_channels_first`,
            { perm: [2, 0, 1] },
            [node.id],
            s.span,
            scope,
          );
        this.outputs.push({ name: key, node: node.id, shape, span: s.name.span });
        return;
      }
      case 'repeat': {
        const n = this.expr(s.count, scope);
        const r = resolveAttr(
          { name: 'repeat', kind: { type: 'int', min: 0 }, default: 0 },
          n,
          'repeat',
        );
        if (!r.ok) {
          this.error(r.problem.span, r.problem.message);
          return;
        }
        const count = r.value as number;
        if (count > MAX_REPEAT) {
          this.error(s.count.span, `repeat ${count} is more than netc allows (${MAX_REPEAT})`);
          return;
        }
        for (let i = 0; i < count && !this.exhausted; i++) {
          const before = this.diags.count;
          for (const t of s.body) this.stmt(t, scope);
          if (this.diags.count > before) return; // the same errors would repeat
        }
        return;
      }
      case 'return':
        if (!scope.block)
          this.error(
            s.span,
            'return belongs in a block; a network declares outputs instead',
            'write output NAME = EXPR',
          );
        return;
    }
  }

  /**
   * The module's key for an input or output: its `name:` option (any string, as a source model
   * named it: `"input.1"`, `"Identity:0"`), else the statement's name; undefined after an error.
   */
  private portKey(s: InputStmt | OutputStmt, scope: Scope): string | undefined {
    let key = s.name.text;
    for (const opt of s.options) {
      if (opt.name?.text !== 'name') {
        const where = opt.name
          ? `unknown ${s.kind} option '${opt.name.text}'`
          : `${s.kind} options are named`;
        this.error(
          opt.name?.span ?? opt.span,
          where,
          `the one ${s.kind} option is name, the module's key for it: ${s.kind} ${s.name.text}${s.kind === 'input' ? ': [...]' : ' = ...'}, name: "${s.kind}.1"`,
        );
        return undefined;
      }
      const v = this.expr(opt.value, scope);
      if (v.k === 'error') return undefined;
      if (v.k !== 'string' || v.v === '') {
        this.error(
          opt.value.span,
          `${s.kind} name must be a non-empty string, got ${showValue(v)}`,
        );
        return undefined;
      }
      key = v.v;
    }
    return key;
  }

  private input(
    name: string,
    key: string | undefined,
    span: Span,
    shapeExpr: Expr,
    scope: Scope,
  ): boolean {
    if (key === undefined) return false;
    const v = this.expr(shapeExpr, scope);
    if (v.k === 'error') return false;
    if (v.k !== 'list' || v.items.length === 0) {
      this.error(
        shapeExpr.span,
        `input '${name}' needs a shape like [28, 28, 1], got ${showValue(v)}`,
      );
      return false;
    }
    const isPlaceholder = (x: Value): boolean =>
      x.k === 'placeholder' ||
      (x.k === 'number' && x.v === -1) ||
      (x.k === 'word' && placeholderWords.has(x.v));
    if (v.items.some(isPlaceholder)) {
      const rest = v.items.filter((x) => !isPlaceholder(x)).map(showValue);
      const bad = v.items.find(isPlaceholder)!;
      this.error(
        bad.span,
        `the batch is implicit: input shapes exclude it; write input ${name}: [${rest.join(', ')}]`,
        `'${showValue(bad)}' looks like a batch placeholder; netc takes the batch size from the data at run time (or from network ${this.decl.name.text}(batch: N))`,
      );
      return false;
    }
    const dims: number[] = [];
    for (const item of v.items) {
      if (item.k !== 'number' || !Number.isSafeInteger(item.v) || item.v < 1) {
        this.error(item.span, `input dimensions are positive integers, got ${showValue(item)}`);
        return false;
      }
      dims.push(item.v);
    }
    if (this.inputs.some((i) => i.name === key)) {
      this.error(span, `input '${key}' is declared twice`);
      return false;
    }
    if (!this.claim(name, span)) return false;
    if (!this.checkSize(dims, span, `input '${name}'`)) return false;
    const id = this.nodes.length;
    const node: Node = {
      id,
      layer: layer('input'),
      name,
      attrs: {},
      inputs: [],
      shape: dims,
      userShape: dims,
      weights: [],
      hidden: false,
      span,
      scope: '',
    };
    this.nodes.push(node);
    this.inputs.push({ name: key, node: id, shape: dims, span });
    let out = node;
    if (this.dataFormat === 'channels_first' && dims.length === 3)
      out = this.hidden(
        'transpose',
        `${name}/~to_channels_last`,
        { perm: [1, 2, 0] },
        [id],
        span,
        scope,
      );
    scope.env.set(name, { k: 'tensor', node: out.id, span });
    return true;
  }

  // ------------------------------------------------------------------------------ expressions

  private expr(e: Expr, scope: Scope): Value {
    switch (e.kind) {
      case 'number':
        return { k: 'number', v: e.value, span: e.span };
      case 'string':
        return { k: 'string', v: e.value, span: e.span };
      case 'bool':
        return { k: 'bool', v: e.value, span: e.span };
      case 'placeholder':
        return { k: 'placeholder', text: '?', span: e.span };
      case 'name': {
        const v = scope.env.get(e.name);
        // NOTE: a use carries its own span (a tensor's too), so a caret lands where it is used.
        if (v) return v.k === 'error' ? v : { ...v, span: e.span };
        if (placeholderWords.has(e.name)) return { k: 'placeholder', text: e.name, span: e.span };
        return { k: 'word', v: e.name, span: e.span };
      }
      case 'list':
        return { k: 'list', items: e.items.map((i) => this.expr(i, scope)), span: e.span };
      case 'unary': {
        const v = this.expr(e.operand, scope);
        if (v.k === 'error') return v;
        if (v.k !== 'number')
          return this.error(e.span, `'${e.op}' applies to numbers, not ${describeValue(v)}`);
        return { k: 'number', v: e.op === '-' ? -v.v : v.v, span: e.span };
      }
      case 'binary': {
        const a = this.expr(e.left, scope);
        const b = this.expr(e.right, scope);
        if (a.k === 'error' || b.k === 'error') return { k: 'error', span: e.span };
        if (a.k !== 'number' || b.k !== 'number') {
          const tensor = a.k === 'tensor' || b.k === 'tensor';
          return this.error(
            e.span,
            `'${e.op}' works on numbers, not ${describeValue(a.k === 'number' ? b : a)}`,
            ...(tensor ? ['for tensors use add(a, b) or multiply(a, b)'] : []),
          );
        }
        if (e.op === '/' && b.v === 0) return this.error(e.right.span, 'division by zero');
        const v =
          e.op === '+'
            ? a.v + b.v
            : e.op === '-'
              ? a.v - b.v
              : e.op === '*'
                ? a.v * b.v
                : a.v / b.v;
        if (!Number.isFinite(v)) return this.error(e.span, 'this number is too large');
        return { k: 'number', v, span: e.span };
      }
      case 'call':
        return this.call(e, [], scope);
      case 'chain': {
        let v = this.expr(e.head, scope);
        for (const [i, c] of e.calls.entries()) {
          if (v.k === 'error') {
            this.unknownCallees(e.calls.slice(i), scope);
            return v;
          }
          if (v.k !== 'tensor')
            return v.k === 'word' && e.head.kind === 'name'
              ? this.unbound(v.v, e.head.span, scope)
              : this.error(
                  e.head.span,
                  `'->' passes a tensor, but ${showValue(v)} is ${describeValue(v)}`,
                );
          v = this.call(c, [v], scope);
        }
        return v;
      }
    }
  }

  /** Reports the calls of a chain's rest that name no layer or block (the chain stopped at an
   * error, so they are not evaluated, but a second misspelt layer is worth a message too). */
  private unknownCallees(calls: readonly CallExpr[], scope: Scope): void {
    for (const c of calls) {
      const name = c.callee.text;
      if (this.blocks.has(name) || LAYER_BY_KIND.has(name) || scope.env.has(name)) continue;
      this.unknownCallee(c);
    }
  }

  private unknownCallee(c: CallExpr): Value {
    const name = c.callee.text;
    const candidates = [...PUBLIC_LAYERS, ...this.blocks.keys()];
    const hint = didYouMean(name, candidates, LAYER_ALIASES);
    return this.error(
      c.callee.span,
      `unknown layer or block '${name}'` + (hint ? ` (did you mean '${hint}'?)` : ''),
      ...(!hint
        ? [`layers: ${PUBLIC_LAYERS.join(', ')}`]
        : hasAlias(name)
          ? [`netc's layers are Keras's layer classes in snake_case (Dense is dense)`]
          : []),
    );
  }

  /** An unbound name where a tensor is needed. */
  private unbound(word: string, span: Span, scope: Scope): Value {
    return this.error(
      span,
      `'${word}' is not bound` + this.nameHint(word, scope),
      'bind it first: NAME = EXPR, or input NAME: [..]',
    );
  }

  private nameHint(word: string, scope: Scope): string {
    const tensors = [...scope.env.entries()].filter(([, v]) => v.k === 'tensor').map(([k]) => k);
    const hint = didYouMean(word, tensors);
    return hint ? ` (did you mean '${hint}'?)` : '';
  }

  private call(c: CallExpr, piped: Value[], scope: Scope): Value {
    const name = c.callee.text;
    if (!this.spend(10, c.span)) return { k: 'error', span: c.span };
    if (this.depth >= MAX_DEPTH)
      return this.error(c.span, `calls nest deeper than ${MAX_DEPTH} levels`);
    this.depth++;
    try {
      const block = this.blocks.get(name);
      if (block) return this.callBlock(block, c, piped, scope);
      const def = LAYER_BY_KIND.get(name);
      if (def && !def.internal) return this.callLayer(def, c, piped, scope);
      const bound = scope.env.get(name);
      if (bound?.k === 'tensor')
        return this.error(
          c.callee.span,
          `'${name}' is a tensor, not a layer or block; it cannot be called`,
        );
      return this.unknownCallee(c);
    } finally {
      this.depth--;
    }
  }

  /** Evaluates the arguments: positional values (after any piped ones) and named ones. */
  private args(
    c: CallExpr,
    piped: Value[],
    scope: Scope,
  ): { pos: Value[]; named: Map<string, { arg: Arg; v: Value }> } | null {
    const pos = [...piped];
    const named = new Map<string, { arg: Arg; v: Value }>();
    let sawNamed = false;
    for (const a of c.args) {
      const v = this.expr(a.value, scope);
      if (a.name) {
        sawNamed = true;
        if (named.has(a.name.text)) {
          this.error(a.name.span, `'${a.name.text}' is given twice`);
          return null;
        }
        named.set(a.name.text, { arg: a, v });
      } else {
        if (sawNamed) {
          this.error(
            a.span,
            'positional arguments come before named ones',
            `name it: ${c.callee.text}(..., NAME: ${showValue(v)})`,
          );
          return null;
        }
        pos.push(v);
      }
    }
    if ([...pos, ...[...named.values()].map((n) => n.v)].some((v) => v.k === 'error')) return null;
    return { pos, named };
  }

  private callName(
    named: Map<string, { arg: Arg; v: Value }>,
  ): { text: string; span: Span } | null | undefined {
    const n = named.get('name');
    if (!n) return undefined;
    named.delete('name');
    const v = n.v;
    if (v.k === 'string' || v.k === 'word') {
      if (v.v.length === 0 || v.v.includes('/')) {
        this.error(v.span, `a name cannot be empty or contain '/', got ${JSON.stringify(v.v)}`);
        return null;
      }
      return { text: v.v, span: v.span };
    }
    this.error(v.span, `name takes a string, got ${describeValue(v)}`, 'write name: "conv1"');
    return null;
  }

  private nextName(scope: Scope, kind: string): string {
    for (;;) {
      const n = scope.counters.get(kind) ?? 0;
      scope.counters.set(kind, n + 1);
      const name = scope.prefix + (n === 0 ? kind : `${kind}_${n}`);
      if (!this.names.has(name)) return name;
    }
  }

  /** Reserves a layer name; a clash is an error. */
  private claim(name: string, span: Span): boolean {
    const prev = this.names.get(name);
    if (prev) {
      this.diags.error(
        span,
        `the name '${name}' is already used (line ${prev.line})`,
        'layer and input names are unique within a network',
      );
      return false;
    }
    this.names.set(name, span);
    return true;
  }

  private callBlock(block: BlockDecl, c: CallExpr, piped: Value[], scope: Scope): Value {
    const bname = block.name.text;
    if (scope.stack.includes(bname)) {
      const cycle = [...scope.stack.slice(scope.stack.indexOf(bname)), bname].join(' -> ');
      return this.error(
        c.callee.span,
        `block '${bname}' calls itself (${cycle}); recursion is not allowed`,
        'unroll it with repeat N { ... } instead',
      );
    }
    const a = this.args(c, piped, scope);
    if (!a) return { k: 'error', span: c.span };
    const explicit = this.callName(a.named);
    if (explicit === null) return { k: 'error', span: c.span };
    const params = block.params;
    if (a.pos.length > params.length)
      return this.error(
        c.span,
        `block '${bname}' takes ${params.length} argument${params.length === 1 ? '' : 's'} (${params.map((p) => p.name.text).join(', ')}), got ${a.pos.length}`,
      );
    const env = new Map<string, Value>();
    params.forEach((p, i) => {
      if (i < a.pos.length) env.set(p.name.text, a.pos[i]!);
    });
    for (const [key, { arg, v }] of a.named) {
      const p = params.find((q) => q.name.text === key);
      if (!p) {
        const hint = didYouMean(
          key,
          params.map((q) => q.name.text),
        );
        return this.error(
          arg.name!.span,
          `block '${bname}' has no parameter '${key}'` + (hint ? ` (did you mean '${hint}'?)` : ''),
          `its parameters: ${params.map((q) => q.name.text).join(', ')}`,
        );
      }
      if (env.has(key))
        return this.error(
          arg.name!.span,
          `parameter '${key}' is given twice (by position and by name)`,
        );
      env.set(key, v);
    }
    const prefix =
      scope.prefix +
      (explicit ? explicit.text : this.nextName(scope, bname).slice(scope.prefix.length)) +
      '/';
    if (explicit && !this.claim(scope.prefix + explicit.text, explicit.span))
      return { k: 'error', span: c.span };
    // NOTE: an automatic call name is reserved too, so a later name: cannot reuse its prefix.
    if (!explicit) this.names.set(prefix.slice(0, -1), c.span);
    const inner: Scope = {
      prefix,
      counters: new Map(),
      env,
      stack: [...scope.stack, bname],
      block,
    };
    for (const p of params) {
      if (env.has(p.name.text)) continue;
      if (!p.default)
        return this.error(
          c.span,
          `block '${bname}' needs its parameter '${p.name.text}'`,
          `call it as ${bname}(${params.map((q) => q.name.text).join(', ')})`,
        );
      env.set(p.name.text, this.expr(p.default, inner));
    }
    for (const s of block.body) {
      if (s.kind === 'return') {
        if (s !== block.body[block.body.length - 1]) break;
        const v = this.expr(s.value, inner);
        return v.k === 'tensor' || v.k === 'error' ? v : { ...v, span: c.span };
      }
      this.stmt(s, inner);
    }
    return { k: 'error', span: c.span };
  }

  private callLayer(def: LayerDef, c: CallExpr, piped: Value[], scope: Scope): Value {
    const kind = def.kind;
    const a = this.args(c, piped, scope);
    if (!a) return { k: 'error', span: c.span };
    const explicit = this.callName(a.named);
    if (explicit === null) return { k: 'error', span: c.span };

    // Leading tensors are the inputs, the rest are attributes by position.
    let nIn = 0;
    while (nIn < a.pos.length && nIn < def.inputs.max && a.pos[nIn]!.k === 'tensor') nIn++;
    const tensors = a.pos.slice(0, nIn) as Extract<Value, { k: 'tensor' }>[];
    if (nIn < def.inputs.min) {
      const want =
        def.inputs.min === 1 ? 'a tensor input' : `at least ${def.inputs.min} tensor inputs`;
      const got = a.pos[nIn];
      if (got?.k === 'word') return this.unbound(got.v, got.span, scope);
      return this.error(
        got ? got.span : c.span,
        `${kind} needs ${want}` + (got ? `, got ${describeValue(got)}` : ''),
        def.inputs.min === 1 ? `write x -> ${kind}(...) or ${kind}(x, ...)` : `write ${kind}(a, b)`,
      );
    }
    const positional = def.attrs.filter((s) => !s.namedOnly);
    const posAttrs = a.pos.slice(nIn);
    if (posAttrs.length > positional.length) {
      const extra = posAttrs[positional.length]!;
      if (extra.k === 'tensor')
        return this.error(
          extra.span,
          `${kind} takes ${def.inputs.max === 1 ? 'one tensor input' : 'tensors first'}; this tensor is one too many`,
        );
      return this.error(
        extra.span,
        `${kind} takes at most ${positional.length} positional attribute${positional.length === 1 ? '' : 's'}` +
          (positional.length ? ` (${positional.map((s) => s.name).join(', ')})` : '') +
          `, got ${posAttrs.length}`,
      );
    }
    const given = new Map<string, Value>();
    posAttrs.forEach((v, i) => given.set(positional[i]!.name, v));
    const attrSpans = new Map<string, Span>();
    posAttrs.forEach((v, i) => attrSpans.set(positional[i]!.name, v.span));
    for (const [key, { arg, v }] of a.named) {
      const spec = def.attrs.find((s) => s.name === key);
      if (!spec) return this.unknownAttr(def, key, arg);
      if (given.has(key))
        return this.error(
          arg.name!.span,
          `${kind}: '${key}' is given twice (by position and by name)`,
        );
      given.set(key, v);
      attrSpans.set(key, v.span);
    }
    const attrs: Record<string, AttrValue> = {};
    for (const spec of def.attrs) {
      const v = given.get(spec.name);
      if (v === undefined) {
        if (spec.default === undefined)
          return this.error(c.span, `${kind} needs ${spec.name}`, `${kind}(${signature(def)})`);
        attrs[spec.name] = spec.default;
        continue;
      }
      const r = resolveAttr(spec, v, `${kind} ${spec.name}`);
      if (!r.ok) return this.error(r.problem.span, r.problem.message, ...(r.problem.notes ?? []));
      attrs[spec.name] = r.value;
    }

    // `activation: softmax` is not elementwise: it becomes a softmax layer after this one.
    const act = attrs['activation'] as { fn?: string } | undefined;
    const softmaxAfter = act?.fn === 'softmax';
    if (softmaxAfter) attrs['activation'] = { fn: 'linear' };

    const name = explicit ? scope.prefix + explicit.text : this.nextName(scope, kind);
    if (explicit && !this.claim(name, explicit.span)) return { k: 'error', span: c.span };
    if (!explicit) this.names.set(name, c.span);

    const node = this.layerNode(
      def,
      name,
      attrs,
      tensors.map((t) => t.node),
      c.span,
      scope,
      attrSpans,
      new Set(given.keys()),
    );
    if (!node) return { k: 'error', span: c.span };
    if (!softmaxAfter) return { k: 'tensor', node: node.id, span: c.span };
    const sm = this.hidden('softmax', `${name}/~softmax`, { axis: -1 }, [node.id], c.span, scope);
    return sm ? { k: 'tensor', node: sm.id, span: c.span } : { k: 'error', span: c.span };
  }

  private unknownAttr(def: LayerDef, key: string, arg: Arg): Value {
    const span = arg.name!.span;
    if (key === 'input_shape' || key === 'batch_input_shape')
      return this.error(
        span,
        `${key} is not a layer attribute: declare the shape with an input statement`,
        'write input x: [28, 28, 1] (the batch is implicit)',
      );
    if (key === 'data_format')
      return this.error(
        span,
        `data_format is set once per network, not per layer`,
        'write network NAME(data_format: channels_first) { ... }',
      );
    const names = def.attrs.map((s) => s.name);
    const alias = Object.prototype.hasOwnProperty.call(ATTRIBUTE_ALIASES, key)
      ? ATTRIBUTE_ALIASES[key]
      : undefined;
    const hint = alias && names.includes(alias) ? alias : didYouMean(key, names);
    return this.error(
      span,
      `${def.kind} has no attribute '${key}'` + (hint ? `; did you mean '${hint}'?` : ''),
      names.length ? `${def.kind}(${signature(def)})` : `${def.kind} takes no attributes`,
    );
  }

  private checkSize(shape: Shape, span: Span, what: string, perExample = true): boolean {
    const n = size(shape);
    if (n <= MAX_ELEMENTS) return true;
    this.diags.error(
      span,
      `${what} would hold ${n.toExponential(2)} values${perExample ? ' per example' : ''} (${((n * 4) / 2 ** 30).toFixed(1)} GiB), more than netc allows (2^28 values, 1 GiB)`,
      'use a smaller input or fewer channels',
    );
    return false;
  }

  /** Adds a node made by the compiler (a layout transpose, a softmax after activation: softmax). */
  private hidden(
    kind: string,
    name: string,
    attrs: Record<string, AttrValue>,
    inputs: number[],
    span: Span,
    scope: Scope,
  ): Node {
    const node = this.layerNode(
      layer(kind),
      name,
      attrs,
      inputs,
      span,
      scope,
      new Map(),
      new Set(),
      true,
    );
    if (!node) throw new InternalError(`internal ${kind} node failed shape inference`);
    return node;
  }

  /** Runs the shape rule and adds the node (wrapping layout-sensitive layers for channels_first). */
  private layerNode(
    def: LayerDef,
    name: string,
    attrs: Record<string, AttrValue>,
    inputIds: number[],
    span: Span,
    scope: Scope,
    attrSpans: ReadonlyMap<string, Span>,
    givenAttrs: ReadonlySet<string>,
    hidden = false,
  ): Node | null {
    const cf = this.dataFormat === 'channels_first';
    let ids = inputIds;
    // NOTE: a layout-sensitive layer works in the user's layout on both sides: its rank-3 input
    // is transposed to [C, H, W], and its rank-3 output (reshape to [C, H, W] after flatten
    // included) is read as [C, H, W] and transposed back below.
    const userLayout = cf && def.traits.layoutSensitive === true;
    if (userLayout && this.nodes[ids[0]!]!.shape.length === 3)
      ids = [
        this.hidden(
          'transpose',
          `${name}/~to_channels_first`,
          { perm: [2, 0, 1] },
          ids,
          span,
          scope,
        ).id,
      ];
    const shapes = ids.map((i) => this.nodes[i]!.shape);
    const describe = (i: number): string => {
      const n = this.nodes[inputIds[i]!]!;
      return `${formatShape(n.userShape)} (from '${n.name.replace(/\/~.*$/, '')}')`;
    };
    let failed = false;
    const ctx: InferContext = {
      inputs: shapes,
      attrs,
      dataFormat: this.dataFormat,
      error: (message, attr, ...notes) => {
        failed = true;
        const at = (attr && attrSpans.get(attr)) || span;
        this.diags.error(at, `${def.kind} '${name}': ${message}`, ...notes);
      },
      axis: (attr, rank) => {
        const user = attrs[attr] as number;
        const idx = user > 0 ? user - 1 : rank + user;
        if (idx < 0 || idx >= rank) {
          ctx.error(
            `${attr} ${user} is out of range for an input of rank ${rank} (batch excluded): use 1 to ${rank} or -1 to -${rank}`,
            attr,
          );
          return null;
        }
        if (!cf || rank !== 3 || userLayout) return idx;
        return [2, 0, 1][idx]!; // user [C, H, W] -> internal [H, W, C]
      },
      describe,
      given: (attr) => givenAttrs.has(attr),
    };
    const inferred = def.infer(ctx);
    if (!inferred || failed) return null;
    const shape = inferred.shape;
    if (!this.checkSize(shape, span, `the output of ${def.kind} '${name}'`)) return null;
    const weights = [];
    for (const w of inferred.weights ?? []) {
      if (!this.checkSize(w.shape, span, `the weight '${name}/${w.name}'`, false)) return null;
      this.weightFloats += size(w.shape);
      if (this.weightFloats > MAX_TOTAL_WEIGHTS) {
        const n = this.weightFloats;
        this.diags.error(
          span,
          `with the weight '${name}/${w.name}', the network's weights would hold ${n.toExponential(2)} values (${((n * 4) / 2 ** 30).toFixed(1)} GiB), more than netc allows in one network (2^28 values, 1 GiB)`,
          'use fewer or smaller layers',
        );
        this.exhausted = true;
        return null;
      }
      const key = `${name}/${w.name}`;
      this.params.push({ key, shape: w.shape, initializer: w.initializer });
      weights.push({ name: w.name, shape: w.shape, value: { op: 'param' as const, key } });
    }
    const node: Node = {
      id: this.nodes.length,
      layer: def,
      name,
      attrs: { ...attrs, ...inferred.attrs },
      inputs: ids,
      shape,
      userShape: userLayout || !cf ? shape : toUserShape(shape, this.dataFormat),
      weights,
      hidden,
      span,
      scope: scope.prefix.replace(/\/$/, ''),
    };
    this.nodes.push(node);
    if (userLayout && shape.length === 3) {
      // The layer produced [C, H, W]: back to the internal layout for what follows.
      const back = this.hidden(
        'transpose',
        `${name}/~to_channels_last`,
        { perm: [1, 2, 0] },
        [node.id],
        span,
        scope,
      );
      return { ...back, userShape: node.userShape };
    }
    void fromUserShape;
    return node;
  }
}

/** Whether another framework's layer name stands for one of netc's (`Linear` for dense). */
function hasAlias(name: string): boolean {
  const has = (w: string): boolean => Object.prototype.hasOwnProperty.call(LAYER_ALIASES, w);
  return has(name) || has(name.toLowerCase());
}

/** Whether a node's data is in the user's layout (a channels_first input node). */
function isUserLayout(node: Node): boolean {
  return node.layer.kind === 'input';
}

/** `filters, kernel_size, strides=1, ...` for messages. */
export function signature(def: LayerDef): string {
  return def.attrs
    .filter((s: AttrSpec) => !s.unused)
    .map((s: AttrSpec) =>
      s.default === undefined ? s.name : `${s.name}: ${showDefault(s.default)}`,
    )
    .join(', ');
}

function showDefault(v: AttrValue): string {
  if (v === null) return 'none';
  if (Array.isArray(v)) {
    if (v.length === 2 && v[0] === v[1] && typeof v[0] === 'number') return String(v[0]);
    return JSON.stringify(v);
  }
  return String(v);
}
