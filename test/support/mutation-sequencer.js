/**
 * Mutation run only (jest.mutation.config.js): Stryker runs a mutant's covering tests by
 * name (testNamePattern); this sequencer keeps only the test files that hold them, from the
 * map test/support/mutation-test-files.ts wrote during the initial run. No map, no pattern or no
 * match: every test file runs, as jest would.
 */
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const mapFile = join(__dirname, '..', '..', '.mutation-test-files.jsonl');
let map = null;
const loadMap = () => {
  if (map === null && existsSync(mapFile)) {
    map = new Map();
    for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
      if (!line) continue;
      const [id, path] = JSON.parse(line);
      if (!map.has(id)) map.set(id, new Set());
      map.get(id).add(path);
    }
  }
  return map;
};

class MutationSequencer extends Sequencer {
  constructor(options) {
    super(options);
    this.pattern = options.globalConfig.testNamePattern;
    globalThis[Symbol.for('depcanary.mutation.killed')] = undefined; // a new run (mutation-environment.js)
  }

  sort(tests) {
    const known = this.pattern ? loadMap() : null;
    if (known) {
      const re = new RegExp(this.pattern, 'i'); // as jest matches testNamePattern
      const covering = new Map(); // test file → how many of the mutant's covering tests it holds
      for (const [id, paths] of known) if (re.test(id)) for (const p of paths) covering.set(p, (covering.get(p) ?? 0) + 1);
      const kept = tests.filter((t) => covering.has(t.path));
      // the file with most covering tests first: the likeliest to kill, after which the rest are skipped
      if (kept.length) return kept.sort((a, b) => covering.get(b.path) - covering.get(a.path));
    }
    return super.sort(tests);
  }
}

module.exports = MutationSequencer;
