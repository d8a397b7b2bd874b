// netc as a library: compile .net text, summarize, initialize weights, build modules.
export { compileSource, type FrontendResult } from './frontend/index.js';
export { renderDiagnostic, type Diagnostic } from './diag/diagnostics.js';
export { summarize, renderSummary, type NetworkSummary } from './summary/summary.js';
export { runPasses, PASSES } from './passes/pipeline.js';
export {
  buildNetwork,
  initWeights,
  initialValues,
  type BuildOptions,
  type Target,
} from './driver.js';
export type { Graph, Node } from './ir/graph.js';
