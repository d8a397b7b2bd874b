// The TextMate grammar's word lists, generated from the layer registry: the layer names (in
// calls and chains), the activation names written as values, and the enumeration words of
// every attribute domain. `npm run grammar` rewrites grammar/netc.tmLanguage.json; a test
// checks that the file is what this generator makes, so a new layer cannot be forgotten.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { ACTIVATIONS } from '../dist/src/layers/activations.js';
import { LAYERS, PUBLIC_LAYERS } from '../dist/src/layers/registry.js';
import { INITIALIZERS } from '../dist/src/weights/initializers.js';

export const GRAMMAR = path.resolve(import.meta.dirname, '../grammar/netc.tmLanguage.json');

const words = (list) => `(?:${list.join('|')})`;

/** Words of every attribute domain, plus paddings, data formats and initializers. */
function enumWords() {
  const out = new Set(['same', 'valid', 'channels_last', 'channels_first']);
  for (const l of LAYERS)
    for (const a of l.attrs) if (a.kind.type === 'enum') for (const v of a.kind.values) out.add(v);
  for (const i of INITIALIZERS) out.add(i);
  return [...out];
}

/** The grammar file's text with its generated word lists. */
export async function textmateGrammar() {
  const g = JSON.parse(readFileSync(GRAMMAR, 'utf8'));
  const repo = g.repository;
  const layers = words(PUBLIC_LAYERS);
  repo['chain-calls'].patterns[0].match = `(->)\\s*(${layers})\\b`;
  repo['calls'].patterns[0].match = `\\b${layers}(?=\\s*\\()`;
  const [enums, activations] = repo['enum-words'].patterns;
  enums.match = `\\b${words(enumWords())}\\b`;
  activations.match = `(?<=:)\\s*\\b${words([...ACTIVATIONS.map((a) => a.name), 'softmax'])}\\b`;
  return prettier.format(JSON.stringify(g, null, 2), { parser: 'json', filepath: GRAMMAR });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(GRAMMAR, await textmateGrammar());
  console.log(`wrote ${path.relative(process.cwd(), GRAMMAR)}`);
}
