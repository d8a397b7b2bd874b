// Hostile weight files: `netc build --weights` and the generated `load({ weights })` (both targets) give a clear error naming the problem, allocate no more than the file, and leave earlier outputs alone.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseSafetensors } from '../../src/runtime/safetensors.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'netc-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const net = path.join(tmp, 'tiny.net');
const good = path.join(tmp, 'good.safetensors');

/** A safetensors file from a header object (or text) and a data section. */
function st(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  lengthOverride?: bigint,
): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === 'string' ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}
const f32 = (...v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
const K = { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] };
const B = { dtype: 'F32', shape: [3], data_offsets: [24, 36] };
const DATA = f32(1, 2, 3, 4, 5, 6, 0.1, 0.2, 0.3);
const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82,
]);

/** Every bad file, and what its error must say. */
const CASES: { name: string; bytes: Uint8Array; error: RegExp }[] = [
  { name: 'empty file', bytes: new Uint8Array(0), error: /0 bytes long, too short/ },
  { name: 'PNG', bytes: PNG, error: /header length \d+ runs past the end of the file/ },
  {
    name: 'random bytes',
    bytes: Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 255),
    error: /runs past the end|not valid (UTF-8|JSON)/,
  },
  {
    name: 'header past EOF',
    bytes: st({ 'dense/kernel': K }, DATA, 10_000n),
    error: /header length 10000 runs past the end of the file \(\d+ bytes/,
  },
  {
    name: 'header of 2^53',
    bytes: st({}, DATA, 2n ** 53n),
    error: /header length 9007199254740992 runs past the end/,
  },
  { name: 'header of 2^64-1', bytes: st({}, DATA, 2n ** 64n - 1n), error: /runs past the end/ },
  { name: 'header not JSON', bytes: st('{"dense/kernel": '), error: /header is not valid JSON/ },
  { name: 'header an array', bytes: st('[1, 2]'), error: /header is an array, not a JSON object/ },
  {
    name: 'offsets out of range',
    bytes: st({ 'dense/kernel': { ...K, data_offsets: [0, 4000] }, 'dense/bias': B }, DATA),
    error: /'dense\/kernel'.*data_offsets \[0, 4000\] run past the end of the data section/,
  },
  {
    name: 'offsets reversed',
    bytes: st({ 'dense/kernel': { ...K, data_offsets: [24, 0] }, 'dense/bias': B }, DATA),
    error: /'dense\/kernel'.*reversed/,
  },
  {
    name: 'offsets overlapping',
    bytes: st({ 'dense/kernel': K, 'dense/bias': { ...B, data_offsets: [20, 32] } }, DATA),
    error: /'dense\/kernel'.*'dense\/bias'.*overlap/,
  },
  {
    name: 'negative offset',
    bytes: st({ 'dense/kernel': { ...K, data_offsets: [-24, 0] }, 'dense/bias': B }, DATA),
    error: /'dense\/kernel'.*non-negative integers/,
  },
  {
    name: 'size != dtype x shape',
    bytes: st(
      {
        'dense/kernel': { ...K, data_offsets: [0, 20] },
        'dense/bias': { ...B, data_offsets: [20, 36] },
      },
      DATA,
    ),
    error: /'dense\/kernel'.*needs 24 bytes.*hold 20/,
  },
  {
    name: 'absurd shape',
    bytes: st({ 'dense/kernel': { ...K, shape: [2 ** 40, 2 ** 40] }, 'dense/bias': B }, DATA),
    error: /'dense\/kernel'.*more bytes than the file holds/,
  },
  {
    name: 'unknown dtype',
    bytes: st({ 'dense/kernel': { ...K, dtype: 'Q7' }, 'dense/bias': B }, DATA),
    error: /'dense\/kernel'.*unsupported dtype 'Q7'/,
  },
  {
    name: 'integer dtype',
    bytes: st({ 'dense/kernel': { ...K, dtype: 'I32' }, 'dense/bias': B }, DATA),
    error: /integer and boolean weights are not supported/,
  },
  {
    name: 'duplicate names',
    bytes: st(
      `{"dense/kernel":${JSON.stringify(K)},"dense/kernel":${JSON.stringify(K)},"dense/bias":${JSON.stringify(B)}}`,
      DATA,
    ),
    error: /duplicate tensor name 'dense\/kernel'/,
  },
  {
    name: 'NaN',
    bytes: st({ 'dense/kernel': K, 'dense/bias': B }, f32(1, 2, 3, NaN, 5, 6, 0, 0, 0)),
    error: /'dense\/kernel' holds NaN at index 3 \(element \[1, 0\]\)/,
  },
  {
    name: 'Infinity',
    bytes: st({ 'dense/kernel': K, 'dense/bias': B }, f32(1, 2, 3, 4, 5, 6, 0, -Infinity, 0)),
    error: /'dense\/bias' holds -Infinity at index 1/,
  },
  {
    name: 'missing tensor',
    bytes: st({ 'dense/kernel': K }, DATA.subarray(0, 24)),
    error: /missing tensor 'dense\/bias' \(expected shape \[3\]\)/,
  },
  {
    name: 'unknown tensor',
    bytes: st(
      { 'dense/kernel': K, 'dense/bias': B, 'dense/kernal': { ...B, data_offsets: [36, 48] } },
      new Uint8Array([...DATA, ...f32(0, 0, 0)]),
    ),
    error: /unknown tensor 'dense\/kernal'/,
  },
  {
    name: 'wrong shape',
    bytes: st({ 'dense/kernel': { ...K, shape: [3, 2] }, 'dense/bias': B }, DATA),
    error: /'dense\/kernel' has shape \[3, 2\], expected \[2, 3\]/,
  },
  {
    name: 'gap between tensors',
    bytes: st(
      { 'dense/kernel': K, 'dense/bias': { ...B, data_offsets: [28, 40] } },
      new Uint8Array([...DATA, ...f32(0)]),
    ),
    error: /gap: bytes \[24, 28\) between tensors 'dense\/kernel' and 'dense\/bias'/,
  },
  {
    name: 'bytes after the last tensor',
    bytes: st({ 'dense/kernel': K, 'dense/bias': B }, new Uint8Array([...DATA, 1, 2, 3])),
    error: /3 bytes after the last tensor \('dense\/bias' ends at byte 36/,
  },
  {
    name: 'I8 without its scales',
    bytes: st(
      {
        'dense/kernel': { ...K, dtype: 'I8', data_offsets: [0, 6] },
        'dense/bias': { ...B, data_offsets: [6, 18] },
      },
      new Uint8Array([1, 2, 3, 4, 5, 6, ...f32(0.1, 0.2, 0.3)]),
    ),
    error: /'dense\/kernel' is I8 \(quantized\), but the file has no tensor 'dense\/kernel:scale'/,
  },
  {
    name: 'metadata not strings',
    bytes: st({ __metadata__: { a: 1 }, 'dense/kernel': K, 'dense/bias': B }, DATA),
    error: /__metadata__ must be an object of strings/,
  },
];

const run = async (argv: string[]): Promise<{ code: number; err: string }> => {
  let err = '';
  const code = await main(argv, { out: () => {}, err: (t) => (err += t + '\n') });
  return { code, err };
};

beforeAll(async () => {
  writeFileSync(net, 'network tiny {\n  input x: [2]\n  output y = x -> dense(3)\n}\n');
  expect((await run(['init', net, '--seed', '4', '-o', good])).code).toBe(0);
  for (const target of ['ts', 'wasm'])
    expect(
      (
        await run([
          'build',
          net,
          '--target',
          target,
          '--weights',
          good,
          '--out',
          path.join(tmp, target),
        ])
      ).code,
    ).toBe(0);
  CASES.forEach((c, i) => writeFileSync(path.join(tmp, `bad${i}.safetensors`), c.bytes));
}, 120_000);

describe('netc build --weights with a bad file', () => {
  for (const target of ['ts', 'wasm'])
    it(`${target}: exit 1, FILE: error: naming the problem, earlier outputs untouched`, async () => {
      const out = path.join(tmp, target);
      const before = ['tiny.js', 'tiny.d.ts', target === 'ts' ? 'tiny.ts' : 'tiny.wasm'].map(
        (f) => ({
          f,
          data: readFileSync(path.join(out, f)),
          mtime: statSync(path.join(out, f)).mtimeMs,
        }),
      );
      for (const [i, c] of CASES.entries()) {
        const file = path.join(tmp, `bad${i}.safetensors`);
        const r = await run(['build', net, '--target', target, '--weights', file, '--out', out]);
        expect(r.code, c.name).toBe(1);
        expect(r.err, c.name).toMatch(new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}: error: `));
        expect(r.err, c.name).toMatch(c.error);
        expect(r.err, c.name).not.toMatch(/internal error|netc bug|\n\s+at /);
      }
      for (const b of before) {
        expect(readFileSync(path.join(out, b.f)).equals(b.data)).toBe(true);
        expect(statSync(path.join(out, b.f)).mtimeMs).toBe(b.mtime);
      }
    }, 60_000);

  it('a weights file that does not exist is a usage error', async () => {
    const r = await run([
      'build',
      net,
      '--weights',
      path.join(tmp, 'nope.safetensors'),
      '--out',
      tmp,
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read weights .*nope\.safetensors/);
  });
});

describe('load({ weights }) in the generated module', () => {
  for (const target of ['ts', 'wasm'])
    it(`${target}: rejects each bad file with an Error saying what is wrong`, () => {
      const script = `
import { readFileSync } from 'node:fs';
const mod = await import(${JSON.stringify(path.join(tmp, target, 'tiny.js'))});
const files = JSON.parse(process.argv[1]);
const out = [];
for (const f of files) {
  try { await mod.load({ weights: readFileSync(f) }); out.push({ ok: true }); }
  catch (e) { out.push({ ok: false, error: e instanceof Error, message: String(e && e.message) }); }
}
const good = await mod.load({ weights: new Uint8Array(readFileSync(${JSON.stringify(good)})).buffer });
out.push({ ok: true, y: [...good.run({ x: Float32Array.from([1, 2]) }).y] });
try { await mod.load({ weights: 'not bytes' }); out.push({ ok: true }); }
catch (e) { out.push({ ok: false, error: e instanceof Error, message: String(e && e.message) }); }
process.stdout.write(JSON.stringify(out));
`;
      const files = CASES.map((_, i) => path.join(tmp, `bad${i}.safetensors`));
      const res = JSON.parse(
        execFileSync(
          process.execPath,
          ['--input-type=module', '-e', script, JSON.stringify(files)],
          {
            encoding: 'utf8',
          },
        ),
      );
      CASES.forEach((c, i) => {
        expect(res[i].ok, c.name).toBe(false);
        expect(res[i].error, c.name).toBe(true);
        expect(res[i].message, c.name).toMatch(c.error);
      });
      expect(res[CASES.length].ok).toBe(true);
      expect(res[CASES.length].y).toHaveLength(3);
      expect(res[CASES.length + 1]).toMatchObject({ ok: false, error: true });
      expect(res[CASES.length + 1].message).toMatch(/ArrayBuffer or a Uint8Array/);
    }, 60_000);
});

describe('allocation', () => {
  it('a header claiming 2^50 bytes (and a shape of 2^40 x 2^40) allocates nothing big', () => {
    const claims = [
      st({}, new Uint8Array(16), 2n ** 50n),
      st(
        { w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 2 ** 50] } },
        new Uint8Array(16),
      ),
      st({ w: { dtype: 'F64', shape: [2 ** 26], data_offsets: [0, 2 ** 29] } }, new Uint8Array(64)),
    ];
    global.gc?.();
    const before = process.memoryUsage();
    for (let k = 0; k < 50; k++)
      for (const bytes of claims)
        expect(() => parseSafetensors(bytes)).toThrow(/past the end|more bytes/);
    const after = process.memoryUsage();
    expect(after.rss - before.rss).toBeLessThan(64 * 2 ** 20);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 2 ** 20);
  });

  it('netc init writes a file that build and load accept, atomically replacing the old one', async () => {
    const w = path.join(tmp, 'init.safetensors');
    writeFileSync(w, 'old');
    expect((await run(['init', net, '--seed', '9', '-o', w])).code).toBe(0);
    const bytes = readFileSync(w);
    expect([...parseSafetensors(bytes).tensors.keys()]).toEqual(['dense/kernel', 'dense/bias']);
    // A failing init (a network with errors) leaves it alone.
    const bad = path.join(tmp, 'bad.net');
    writeFileSync(bad, 'network b { input x: [2]\n output y = x -> dense(0) }');
    expect((await run(['init', bad, '-o', w])).code).toBe(1);
    expect(readFileSync(w).equals(bytes)).toBe(true);
  });
});
