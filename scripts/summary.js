// Prints one closing line "depcanary: N passed, N failed, N skipped" over every suite's
// machine-readable results (jest JSON files, pytest JUnit XML files).
const fs = require('node:fs');
let passed = 0, failed = 0, skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) { console.error(`summary: ${file} missing (suite did not run)`); failed += 1; continue; }
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    const j = JSON.parse(text);
    passed += j.numPassedTests; failed += j.numFailedTests + (j.numRuntimeErrorTestSuites || 0);
    skipped += j.numPendingTests + (j.numTodoTests || 0);
  } else {
    const suites = [...text.matchAll(/<testsuite\b[^>]*>/g)].map((m) => m[0]);
    for (const s of suites) {
      const n = (k) => Number((new RegExp(`${k}="(\\d+)"`).exec(s) || [])[1] || 0);
      const total = n('tests'), f = n('failures') + n('errors'), sk = n('skipped');
      passed += total - f - sk; failed += f; skipped += sk;
    }
  }
}
console.log(`depcanary: ${passed} passed, ${failed} failed, ${skipped} skipped`);
