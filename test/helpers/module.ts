// Building generated modules into a directory and running them in a separate Node process, as
// an app would. One runner process per test file serves every run (starting Node and
// importing a module costs more than running a small network); `fresh` gives a run its own.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildNetwork, type BuildOptions, type Target } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import type { Graph } from '../../src/ir/graph.js';
import type { KernelProgram } from '../../src/lower/program.js';

const RUNNER = path.join(import.meta.dirname, 'run-module.mjs');

export interface Built {
  readonly program: KernelProgram;
  /** The path of the built .js module. */
  readonly module: string;
}

/** Builds `graph` into `dir` (created if need be); throws the build's error. */
export async function buildInto(dir: string, graph: Graph, opts: BuildOptions): Promise<Built> {
  const built = await buildNetwork(graph, opts);
  if (!built.ok) throw new Error(built.error);
  mkdirSync(dir, { recursive: true });
  for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
  return { program: built.program, module: path.join(dir, `${graph.name}.js`) };
}

/**
 * Compiles `source` (an importer's output: one network, no diagnostics expected), builds it on
 * `target` into `dir` with `weights`, runs it on `feeds` (in the network's input order) and
 * returns its outputs in output order.
 */
export async function runSource(
  dir: string,
  source: string,
  weights: Uint8Array,
  feeds: readonly Float32Array[],
  target: Target,
): Promise<Float32Array[]> {
  const compiled = compileSource(source);
  if (compiled.diagnostics.length > 0)
    throw new Error(compiled.diagnostics.map((d) => d.message).join('\n'));
  const g = compiled.graphs[0]!;
  const built = await buildInto(dir, g, { target, seed: 0, weights, format: false });
  const got = await runModule(
    built.module,
    Object.fromEntries(g.inputs.map((p, i) => [p.name, feeds[i]!])),
  );
  return g.outputs.map((p) => got[p.name]!);
}

export interface RunOptions {
  /** Safetensors bytes for load(); without them the module's built-in weights. */
  readonly weights?: Uint8Array;
  /** Run twice into caller-owned outputs (filled with NaN first), which run() must return. */
  readonly into?: boolean;
  /** A process of its own, ended after the run (for large modules, and runs in parallel). */
  readonly fresh?: boolean;
  /** Load and run once per thread count (load({ threads })); outputs come back as
   * `NAME@THREADS`, and `@threads` holds each net's `threads`. */
  readonly threads?: readonly number[];
}

type Reply = { id: number; outputs: Record<string, Float32Array> } | { id: number; error: string };

/** A runner process and its pending requests. */
class Runner {
  private readonly child: ChildProcess;
  private readonly pending = new Map<
    number,
    { resolve: (o: Record<string, Float32Array>) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  exited = false;

  constructor() {
    this.child = fork(RUNNER, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: Reply) => {
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      this.idle();
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.outputs);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values())
        p.reject(new Error(`module runner exited (${signal ?? `code ${code}`})`));
      this.pending.clear();
    });
    this.child.unref();
    this.idle();
  }

  /** The IPC channel keeps the test process alive only while a request is pending. */
  private idle(): void {
    const channel = this.child.channel as { ref(): void; unref(): void } | null | undefined;
    if (this.pending.size > 0) channel?.ref();
    else channel?.unref();
  }

  run(
    module: string,
    feeds: Record<string, Float32Array>,
    opts: RunOptions,
  ): Promise<Record<string, Float32Array>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.idle();
      const { weights, into, threads } = opts;
      this.child.send({ id, module, feeds, weights, into: into ?? false, threads });
    });
  }

  close(): void {
    this.child.kill();
  }
}

let shared: Runner | undefined;

/**
 * Runs the built module at `module` (a .js path) on `feeds` in a Node process outside Vitest:
 * imported afresh, loaded with its built-in weights or `opts.weights`, run. Returns every
 * output.
 */
export async function runModule(
  module: string,
  feeds: Record<string, Float32Array>,
  opts: RunOptions = {},
): Promise<Record<string, Float32Array>> {
  if (opts.fresh) {
    const own = new Runner();
    try {
      return await own.run(module, feeds, opts);
    } finally {
      own.close();
    }
  }
  if (!shared || shared.exited) shared = new Runner();
  return shared.run(module, feeds, opts);
}
