// A Vitest reporter (vitest.config.ts) that prints the ten slowest test files after a run, so
// that a test growing slow shows in every `npm test` (test/README.md: keep the suite fast).
import type { Reporter, TestModule } from 'vitest/node';

export default class SlowestFiles implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows = modules.map((m) => {
      const d = m.diagnostic();
      const whole =
        d.prepareDuration +
        d.environmentSetupDuration +
        d.collectDuration +
        d.setupDuration +
        d.duration;
      return { file: m.relativeModuleId, whole, tests: d.duration };
    });
    rows.sort((a, b) => b.whole - a.whole);
    const s = (ms: number): string => (ms / 1000).toFixed(1).padStart(6);
    const lines = rows.slice(0, 10).map((r) => `${s(r.whole)} s ${s(r.tests)} s  ${r.file}`);
    console.log(`\nSlowest test files (whole file, its tests alone):\n${lines.join('\n')}\n`);
  }
}
