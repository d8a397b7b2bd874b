// Code injection: names and strings from the source are data in the generated .ts/.js/.d.ts (both targets), never code, and the modules keep working.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork, initWeights, initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { buildInto, runModule } from '../helpers/module.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-inject-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Payloads as .net string bodies (escapes decoded by the lexer), each trying to end a string,
 * a template, a comment or a line and run `globalThis.PWNED = 1`. None holds '/'. */
const PAYLOADS = [
  String.raw`\"; globalThis.PWNED = 1; \"`,
  String.raw`'; globalThis.PWNED = 1; '`,
  '`; globalThis.PWNED = 1; `',
  '${globalThis.PWNED = 1}',
  '`${globalThis.PWNED = 1}`',
  String.raw`\n globalThis.PWNED = 1; `,
  String.raw`\r globalThis.PWNED = 1; `,
  String.raw`\u2028 globalThis.PWNED = 1; `,
  String.raw`\u2029 globalThis.PWNED = 1; `,
  '\u2028 globalThis.PWNED = 1; ',
  String.raw`*\u0000 globalThis.PWNED = 1; \ud800`,
  String.raw`\\\"); globalThis.PWNED = 1; (\"`,
  '\u202e globalThis.PWNED = 1; <script>',
  String.raw`}}}]]); globalThis.PWNED = 1; ((\t`,
];

/** Payloads holding '/' (comment ends, `</script>`): names cannot hold '/', so a diagnostic. */
const SLASHED = ['*/ globalThis.PWNED = 1; /*', '</script><script>globalThis.PWNED = 1</script>'];

function source(payloads: readonly string[]): string {
  const layers = payloads.map(
    (p, i) => `    -> relu(name: "${p}~${i}")${i % 3 === 0 ? ' -> dense(4)' : ''}`,
  );
  return `network inject {
  input __proto__: [4]
  input toString: [4]
  a = __proto__ -> dense(4, name: "${payloads[0]}~dense")
  b = toString -> dense(4, name: "${payloads[1]}~dense")
  s = add(a, b, name: "${payloads[2]}~add")
${layers.join('\n').replace(/^ {4}->/, '  h = s ->')}
  output constructor = h -> dense(2, name: "${payloads[3]}~out")
  output valueOf = h -> softmax(name: "${payloads[4]}~softmax")
}`;
}

const RUNNER = `
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [file, weights] = process.argv.slice(2);
const mod = await import(pathToFileURL(file).href);
const report = { pwned: globalThis.PWNED };
const feeds = {};
Object.defineProperty(feeds, '__proto__', { value: Float32Array.from([1, -2, 3, -4, 0.5, 0.25, -1, 2]), enumerable: true });
feeds.toString = Float32Array.from([0.5, 1, -1, 2, 3, -3, 1, 1]);
const out = [];
for (const net of [await mod.load(), await mod.load({ weights: readFileSync(weights) })]) {
  const into = {};
  Object.defineProperty(into, 'constructor', { value: new Float32Array(4), enumerable: true });
  const r1 = net.run(feeds);
  const r2 = net.run(feeds, into);
  out.push({
    keys: Object.keys(r1), proto: Object.getPrototypeOf(r1) === Object.prototype,
    intoSame: r2.constructor === into.constructor,
    constructor: [...r1.constructor], valueOf: [...r1.valueOf], again: [...r2.valueOf],
  });
}
report.inputs = Object.keys(mod.inputs);
report.outputs = Object.keys(mod.outputs);
report.inputsProto = Object.getPrototypeOf(mod.inputs) === Object.prototype;
report.shape = mod.inputs.__proto__;
report.runs = out;
report.pwnedAfter = globalThis.PWNED;
process.stdout.write(JSON.stringify(report));
`;

const graphOf = (src: string): Graph => {
  const r = compileSource(src);
  expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.message}`)).toEqual([]);
  return r.graphs[0]!;
};

describe('names and strings are data', () => {
  const graph = graphOf(source(PAYLOADS));
  const dirs: Record<string, string> = {};

  beforeAll(async () => {
    writeFileSync(path.join(tmp, 'run.mjs'), RUNNER);
    writeFileSync(path.join(tmp, 'weights.safetensors'), initWeights(graph, 3));
    for (const target of ['ts', 'wasm'] as const) {
      const built = await buildNetwork(graph, { target, seed: 3 });
      if (!built.ok) throw new Error(built.error);
      const dir = path.join(tmp, target);
      mkdirSync(dir, { recursive: true });
      for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
      dirs[target] = dir;
    }
  }, 120_000);

  it('the layer names carry the payloads verbatim', () => {
    const names = graph.nodes.map((n) => n.name);
    expect(names.some((n) => n.includes('"; globalThis.PWNED = 1; "'))).toBe(true);
    expect(names.some((n) => n.includes('\u2028'))).toBe(true);
    expect(names.some((n) => n.includes('\n'))).toBe(true);
    expect(names.some((n) => n.includes('\ud800'))).toBe(true);
    expect(graph.inputs.map((i) => i.name)).toEqual(['__proto__', 'toString']);
    expect(graph.outputs.map((o) => o.name)).toEqual(['constructor', 'valueOf']);
  });

  it('names with a slash are refused with a diagnostic', () => {
    for (const p of SLASHED) {
      const r = compileSource(source([p, ...PAYLOADS]));
      expect(r.graphs).toEqual([]);
      expect(r.diagnostics[0]!.message).toMatch(/cannot be empty or contain '\/'/);
      expect(r.diagnostics[0]!.span.line).toBeGreaterThanOrEqual(1);
    }
  });

  for (const target of ['ts', 'wasm'] as const) {
    it(`${target}: the .js passes node --check and holds no line terminator outside strings`, () => {
      const js = path.join(dirs[target]!, 'inject.js');
      execFileSync(process.execPath, ['--check', js], { stdio: 'pipe' });
      const text = readFileSync(js, 'utf8');
      // Raw U+2028/U+2029 end a // comment in JavaScript: the generator must never emit them.
      expect(text).not.toMatch(/[\u2028\u2029]/);
      // Every payload line is inside a string literal or a comment; a statement never starts
      // with the payload's code.
      for (const line of text.split('\n'))
        expect(line.trimStart().startsWith('globalThis.PWNED')).toBe(false);
    });

    it(`${target}: importing, loading and running never executes a payload`, () => {
      const out = execFileSync(
        process.execPath,
        [
          path.join(tmp, 'run.mjs'),
          path.join(dirs[target]!, 'inject.js'),
          path.join(tmp, 'weights.safetensors'),
        ],
        { encoding: 'utf8' },
      );
      const r = JSON.parse(out);
      expect(r.pwned).toBeUndefined();
      expect(r.pwnedAfter).toBeUndefined();
      expect(r.inputs).toEqual(['__proto__', 'toString']);
      expect(r.outputs).toEqual(['constructor', 'valueOf']);
      expect(r.inputsProto).toBe(true);
      expect(r.shape).toEqual([4]);
      const feeds = {
        __proto__: Float32Array.from([1, -2, 3, -4, 0.5, 0.25, -1, 2]),
        toString: Float32Array.from([0.5, 1, -1, 2, 3, -3, 1, 1]),
      };
      const seeded = new Map(graph.params.map((p, i) => [p.key, initialValues(graph, 3)[i]!]));
      const feedMap: Record<string, Float32Array> = {};
      Object.defineProperty(feedMap, '__proto__', { value: feeds.__proto__, enumerable: true });
      feedMap['toString'] = feeds.toString;
      const want = runReference(graph, seeded, feedMap, 2);
      for (const run of r.runs) {
        expect(run.keys).toEqual(['constructor', 'valueOf']);
        expect(run.proto).toBe(true);
        expect(run.intoSame).toBe(true);
        expectClose(Float32Array.from(run.constructor), want['constructor']!, 'constructor');
        expectClose(Float32Array.from(run.valueOf), want['valueOf']!, 'valueOf');
        expect(run.again).toEqual(run.valueOf);
      }
    }, 60_000);
  }

  it('the .ts and .d.ts type-check (tsc --noEmit, strict)', () => {
    const dir = path.join(tmp, 'tscheck');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'inject.ts'), readFileSync(path.join(dirs['ts']!, 'inject.ts')));
    writeFileSync(
      path.join(dir, 'inject_wasm.d.ts'),
      readFileSync(path.join(dirs['wasm']!, 'inject.d.ts')),
    );
    writeFileSync(
      path.join(dir, 'use.ts'),
      `import type * as W from './inject_wasm.js';
import { inputs, load } from './inject.js';
const shape: readonly [4] = inputs['__proto__'];
void shape;
export async function f(w: typeof W): Promise<void> {
  const net = await load();
  const r = net.run({ ['__proto__']: new Float32Array(4), toString: new Float32Array(4) });
  const c: Float32Array = r['constructor'];
  void c;
  const n2 = await w.load();
  void n2.run({ ['__proto__']: new Float32Array(4), toString: new Float32Array(4) }).valueOf;
}
`,
    );
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['inject.ts', 'inject_wasm.d.ts', 'use.ts'],
      }),
    );
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', dir], { stdio: 'pipe' });
  }, 60_000);

  it('kernel comments cannot be broken out of', () => {
    const text = readFileSync(path.join(dirs['ts']!, 'inject.ts'), 'utf8');
    for (const line of text.split('\n')) {
      const c = line.indexOf('//');
      if (c >= 0 && line.includes('PWNED') && !/^\s*\/\//.test(line)) {
        // A step line: `kernel(...); // LAYER` with the name escaped as in JSON.
        expect(line.slice(c)).not.toMatch(/[\r\u2028\u2029]/);
      }
    }
    expect(text).not.toMatch(/[\u2028\u2029\r]/);
  });
});

describe("an input's or output's `name:` is the module's key, and data", () => {
  // Keys as source models write them (`input.1`, `Identity:0`), and payloads, '/' included: a
  // key is not a layer name, so nothing forbids it.
  const keys = ['input.1', PAYLOADS[0]!, SLASHED[1]!, 'Identity:0', PAYLOADS[9]!];
  const quoted = keys.map((k) => JSON.stringify(k));
  const src = `network keyed {
  input x: [3], name: ${quoted[0]}
  input y: [3], name: ${quoted[1]}
  s = add(x, y) -> dense(2)
  output a = s -> relu, name: ${quoted[2]}
  output b = s, name: ${quoted[3]}
  output s, name: ${quoted[4]}
}`;

  it('keys the feeds, the results and the shape tables; both targets match the reference', async () => {
    const graph = graphOf(src);
    expect(graph.inputs.map((i) => i.name)).toEqual(keys.slice(0, 2));
    expect(graph.outputs.map((o) => o.name)).toEqual(keys.slice(2));
    const feeds = {
      [keys[0]!]: Float32Array.from([1, -2, 3, 0.5, 0.25, -1]),
      [keys[1]!]: Float32Array.from([0.5, 1, -1, 2, -3, 1]),
    };
    const seeded = new Map(graph.params.map((p, i) => [p.key, initialValues(graph, 0)[i]!]));
    const want = runReference(graph, seeded, feeds, 2);
    for (const target of ['ts', 'wasm'] as const) {
      const { module } = await buildInto(path.join(tmp, `keyed-${target}`), graph, {
        target,
        seed: 0,
      });
      execFileSync(process.execPath, ['--check', module], { stdio: 'pipe' });
      const got = await runModule(module, feeds);
      expect(Object.keys(got)).toEqual(keys.slice(2));
      for (const k of keys.slice(2)) expectClose(got[k]!, want[k]!, `${target} ${k}`);
    }
  }, 60_000);

  it('an unknown option, a key that is not a string, or one used twice is a diagnostic', () => {
    const errors = (body: string): string[] =>
      compileSource(`network n {\n${body}\n}`).diagnostics.map((d) => d.message);
    expect(errors('input x: [3], nam: "a"\noutput x')).toEqual(["unknown input option 'nam'"]);
    expect(errors('input x: [3], name: 3\noutput x')[0]).toMatch(/non-empty string, got 3/);
    expect(errors('input x: [3]\noutput y = x, name: ""')[0]).toMatch(/non-empty string/);
    expect(errors('input x: [3]\noutput y = x, name: "o"\noutput z = x, name: "o"')).toEqual([
      "output 'o' is declared twice",
    ]);
  });
});
