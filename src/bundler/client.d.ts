// `/// <reference types="netc/client" />`: types for `import ... from './model.net'` through the
// netc Vite or esbuild plugin. The exact shapes of one network are in the .d.ts that
// `netc build` writes; these are the shapes every network's module has.
declare module '*.net' {
  export const inputs: { readonly [name: string]: readonly number[] };
  export const outputs: { readonly [name: string]: readonly number[] };
  export interface Net {
    run(
      feeds: { readonly [name: string]: Float32Array },
      into?: { readonly [name: string]: Float32Array },
    ): { [name: string]: Float32Array };
  }
  export function load(options?: { weights?: ArrayBuffer | Uint8Array }): Promise<Net>;
  const module: { inputs: typeof inputs; outputs: typeof outputs; load: typeof load };
  export default module;
}
