#!/usr/bin/env node
// Regenerate scripts/demo-<name>.sh from the scenarios (src/teach/lessons/*.ts).
// Run with: npm run gen-demos   (it builds first). A test fails when a committed script is stale.
import { writeFileSync, chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const { SCENARIOS } = await import(path.join(here, '../dist/src/teach/lessons/index.js'));
const { demoScript, demoLibScript } = await import(path.join(here, '../dist/src/teach/script.js'));
writeFileSync(path.join(here, 'lib-demo.sh'), demoLibScript());
console.log('wrote scripts/lib-demo.sh');
for (const s of SCENARIOS) {
  const file = path.join(here, `demo-${s.name}.sh`);
  writeFileSync(file, demoScript(s));
  chmodSync(file, 0o755);
  console.log(`wrote scripts/demo-${s.name}.sh`);
}
