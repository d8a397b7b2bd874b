// Attribute values: checks a constant against an attribute's domain and normalizes it
// (`3` -> [3, 3], `1` padding -> [[1, 1], [1, 1]], `relu` -> { fn: 'relu' }).
import type { Span } from '../../grammar/ast.js';
import type { AttrValue } from '../ir/graph.js';
import { didYouMean, LAYER_ALIASES } from '../diag/suggest.js';
import { ACTIVATION_BY_NAME, makeActivation } from '../layers/activations.js';
import type { AttrSpec } from '../ir/op.js';
import { INITIALIZERS } from '../weights/initializers.js';
import { describeValue, showValue, type Value } from './values.js';

export interface AttrProblem {
  readonly message: string;
  readonly span: Span;
  readonly notes?: readonly string[];
}

type Result = { ok: true; value: AttrValue } | { ok: false; problem: AttrProblem };

const ok = (value: AttrValue): Result => ({ ok: true, value });
const bad = (span: Span, message: string, ...notes: string[]): Result => ({
  ok: false,
  problem: { message, span, notes },
});

/** The value of an integer written as a number with no fractional part, else undefined. */
function integer(v: Value): number | undefined {
  return v.k === 'number' && Number.isSafeInteger(v.v) ? v.v : undefined;
}

function intOrBad(v: Value, what: string, min: number): number | Result {
  if (v.k !== 'number')
    return bad(
      v.span,
      `${what} takes an integer, got ${describeValue(v)}`,
      ...(v.k === 'placeholder'
        ? ["shapes in netc exclude the batch (Keras's None): leave it out"]
        : []),
    );
  const n = integer(v);
  if (n === undefined)
    return bad(
      v.span,
      Number.isInteger(v.v) || !Number.isFinite(v.v)
        ? `${what} takes an integer, got ${v.v}, which is too large (at most 2^53 - 1)`
        : `${what} takes an integer, got ${v.v}, which has a fractional part`,
    );
  if (n < min) return bad(v.span, `${what} must be at least ${min}, got ${n}`);
  return n;
}

/** A Keras axis (any integer but 0, the batch); `verb` says how the message reads: `what
 * cannot be 0` for an axis, `what cannot include 0` for an item of a list of axes. */
function axisOrBad(v: Value, what: string, verb: 'be' | 'include'): number | Result {
  const n = intOrBad(v, what, -Infinity);
  if (typeof n !== 'number' || n !== 0) return n;
  return bad(
    v.span,
    `${what} cannot ${verb} 0: axis 0 is the batch`,
    'axes count as Keras counts them: 1 is the first axis of an example, -1 the last',
  );
}

/** A word or a string naming one of `values`. */
function choice(v: Value, what: string, values: readonly string[]): string | Result {
  const text = v.k === 'word' || v.k === 'string' ? v.v : undefined;
  if (text !== undefined && values.includes(text)) return text;
  const got = text ?? showValue(v);
  const hint = text !== undefined ? didYouMean(text, values) : undefined;
  return bad(
    v.span,
    `${what} must be one of ${values.join(', ')}; got ${got}` +
      (hint ? ` (did you mean '${hint}'?)` : ''),
  );
}

/** `p`, `[ph, pw]` or `[[t, b], [l, r]]` -> [[t, b], [l, r]]. */
function amounts(v: Value, what: string): Result {
  const n = integer(v);
  if (n !== undefined) {
    if (n < 0) return bad(v.span, `${what} must not be negative, got ${n}`);
    return ok([
      [n, n],
      [n, n],
    ]);
  }
  if (v.k === 'list' && v.items.length === 2) {
    const [a, b] = v.items as [Value, Value];
    if (a.k === 'list' || b.k === 'list') {
      const rows: number[][] = [];
      for (const row of [a, b]) {
        if (row.k !== 'list' || row.items.length !== 2) break;
        const r = row.items.map(integer);
        if (r.some((x) => x === undefined || x < 0)) break;
        rows.push(r as number[]);
      }
      if (rows.length === 2) return ok(rows);
    } else {
      const ph = integer(a);
      const pw = integer(b);
      if (ph !== undefined && pw !== undefined && ph >= 0 && pw >= 0)
        return ok([
          [ph, ph],
          [pw, pw],
        ]);
    }
  }
  return bad(
    v.span,
    `${what} takes p, [ph, pw] or [[top, bottom], [left, right]] with non-negative integers; got ${showValue(v)}`,
  );
}

/** Checks and normalizes one attribute value. `what` names it in messages: `conv2d strides`. */
export function resolveAttr(spec: AttrSpec, v: Value, what: string): Result {
  const kind = spec.kind;
  if (v.k === 'tensor')
    return bad(v.span, `${what} takes a constant, got a tensor`, 'tensor inputs come first');
  if (v.k === 'error') return ok(null);
  if (v.k === 'placeholder') return bad(v.span, `${what} cannot be '${v.text}'`);
  switch (kind.type) {
    case 'int': {
      const n = intOrBad(v, what, kind.min);
      return typeof n === 'number' ? ok(n) : n;
    }
    case 'float': {
      if (v.k !== 'number') return bad(v.span, `${what} takes a number, got ${describeValue(v)}`);
      if (kind.min !== undefined && (v.v < kind.min || (kind.open && v.v === kind.min)))
        return bad(
          v.span,
          `${what} must be ${kind.open ? 'above' : 'at least'} ${kind.min}, got ${v.v}`,
        );
      if (kind.max !== undefined && v.v > kind.max)
        return bad(v.span, `${what} must be at most ${kind.max}, got ${v.v}`);
      return ok(v.v);
    }
    case 'bool':
      return v.k === 'bool'
        ? ok(v.v)
        : bad(v.span, `${what} takes true or false, got ${showValue(v)}`);
    case 'enum': {
      const c = choice(v, what, kind.values);
      return typeof c === 'string' ? ok(c) : c;
    }
    case 'string':
      return v.k === 'string' ? ok(v.v) : bad(v.span, `${what} takes a string in double quotes`);
    case 'pair': {
      if (v.k === 'list') {
        if (v.items.length !== 2)
          return bad(v.span, `${what} takes an integer or [h, w], got a list of ${v.items.length}`);
        const out: number[] = [];
        for (const item of v.items) {
          const n = intOrBad(item, what, kind.min);
          if (typeof n !== 'number') return n;
          out.push(n);
        }
        return ok(out);
      }
      const n = intOrBad(v, what, kind.min);
      return typeof n === 'number' ? ok([n, n]) : n;
    }
    case 'padding': {
      if (v.k === 'word' || v.k === 'string') {
        const c = choice(v, what, ['valid', 'same']);
        return typeof c === 'string' ? ok(c) : c;
      }
      if (!kind.explicit) return bad(v.span, `${what} must be valid or same, got ${showValue(v)}`);
      return amounts(v, what);
    }
    case 'amounts':
      return amounts(v, what);
    case 'ints': {
      const items = v.k === 'list' ? v.items : [v];
      const out: number[] = [];
      for (const item of items) {
        const n = intOrBad(item, what, kind.min);
        if (typeof n !== 'number') return n;
        out.push(n);
      }
      return ok(out);
    }
    case 'axis': {
      const n = axisOrBad(v, what, 'be');
      return typeof n === 'number' ? ok(n) : n;
    }
    case 'axes': {
      // An item already reported (a division by zero): no second error about the list.
      if (v.k === 'list' && v.items.some((i) => i.k === 'error')) return ok(null);
      const out: number[] = [];
      for (const item of v.k === 'list' ? v.items : [v]) {
        const n = axisOrBad(item, what, 'include');
        if (typeof n !== 'number') return n;
        out.push(n);
      }
      if (out.length === 0) return bad(v.span, `${what} takes an axis or a list of axes, got []`);
      return ok(out);
    }
    case 'numbers': {
      if (v.k === 'number') return ok(v.v);
      if (v.k === 'list' && v.items.some((i) => i.k === 'error')) return ok(null);
      if (v.k === 'list' && v.items.length > 0 && v.items.every((i) => i.k === 'number'))
        return ok(v.items.map((i) => (i as { v: number }).v));
      return bad(
        v.span,
        `${what} takes a number or a list of numbers (one per channel), got ${showValue(v)}`,
      );
    }
    case 'activation': {
      const text = v.k === 'word' || v.k === 'string' ? v.v : undefined;
      if (text === 'softmax') return ok({ fn: 'softmax' });
      const def = text === undefined ? undefined : ACTIVATION_BY_NAME.get(text);
      if (!def) {
        const names = [...ACTIVATION_BY_NAME.keys(), 'softmax'];
        const hint = text === undefined ? undefined : didYouMean(text, names, LAYER_ALIASES);
        return bad(
          v.span,
          `${what}: unknown activation ${text ?? showValue(v)}` +
            (hint ? ` (did you mean '${hint}'?)` : ''),
          `activations: ${names.join(', ')}`,
        );
      }
      const required = def.attrs.filter((a) => a.default === undefined).map((a) => a.name);
      if (required.length > 0)
        return bad(
          v.span,
          `${what}: ${def.name} needs ${required.join(' and ')}, which an activation name cannot give`,
          `write the layer instead: -> ${def.name}(${required.map((r) => `${r}: ...`).join(', ')})`,
        );
      return ok(
        makeActivation(def, Object.fromEntries(def.attrs.map((a) => [a.name, a.default ?? null]))),
      );
    }
    case 'initializer': {
      const c = choice(v, what, INITIALIZERS);
      return typeof c === 'string' ? ok(c) : c;
    }
  }
}
