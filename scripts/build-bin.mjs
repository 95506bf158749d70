#!/usr/bin/env node
// Bundle the CLI into one CommonJS file, dist/src/cli/vfioctl.cjs, which bin/vfioctl runs.
// Why: Node 20 has no compile cache, and loading ~25 separate ES modules (plus commander
// through the ESM-to-CJS bridge) costs more start-up time than the command itself. One
// CJS file loads in a fraction of that (see README, Performance). tsc still builds dist/
// module by module for type checking and for the tests; the bundle is made from the same
// sources. chalk, ora and yaml stay outside the bundle, loaded only where they are needed.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(root, 'dist/src/cli/vfioctl.cjs'), // beside main.js: context.ts finds the repository from its own location
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['chalk', 'ora', 'yaml'],
  define: { 'import.meta.url': '__vfioctl_url' },
  banner: { js: "const __vfioctl_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
