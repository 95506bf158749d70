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

/**
 * Built-in modules that cost start-up time when required (node:child_process alone loads
 * net, dgram and more: ~20 ms) but that most commands never call: commander requires
 * child_process at load for subcommand executables vfioctl does not have. In the bundle
 * they become a stand-in that requires the real module on first use.
 */
const LAZY_BUILTINS = ['node:child_process', 'child_process', 'node:crypto', 'crypto'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${LAZY_BUILTINS.join('|')})$`) }, (a) => (a.namespace === 'lazy-builtin' ? { path: a.path, external: true } : { path: a.path, namespace: 'lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (a) => {
      const id = a.path.startsWith('node:') ? a.path : 'node:' + a.path;
      // the names are known now, so listing them (esbuild's ESM interop does) loads nothing
      const names = Object.keys(await import(id));
      return {
        loader: 'js',
        contents: `let real; const get = () => (real ??= require(${JSON.stringify(id)}));
const names = ${JSON.stringify(names)};
module.exports = new Proxy({}, {
  get: (_, k) => get()[k],
  has: (_, k) => names.includes(k),
  ownKeys: () => names,
  getOwnPropertyDescriptor: (_, k) => (names.includes(k) ? { value: undefined, writable: true, enumerable: true, configurable: true } : undefined),
});`,
      };
    });
  },
};

/**
 * chalk and ora are ES modules only, which the bundle (CommonJS, compiled by vm.Script in
 * bin/vfioctl) cannot import(): a dynamic import from such a script has no loader once its
 * code cache is used ("A dynamic import callback was not specified"). Each is bundled into
 * a CommonJS file of its own beside the bundle, which the bundle requires where the
 * sources import() it: still loaded only when colour is on or a demo spins.
 */
const VENDOR = { chalk: "export * from 'chalk';", ora: "export { default } from 'ora';" };
for (const [name, contents] of Object.entries(VENDOR)) {
  await build({
    stdin: { contents, resolveDir: root, sourcefile: `vendor-${name}.js` },
    outfile: path.join(root, 'dist', 'src', 'cli', `vendor-${name}.cjs`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
}
const vendor = {
  name: 'vendor',
  setup(b) {
    b.onResolve({ filter: /^(chalk|ora)$/ }, (a) => ({ path: `./vendor-${a.path}.cjs`, external: true }));
  },
};

await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(root, 'dist/src/cli/vfioctl.cjs'), // beside main.js: context.ts finds the repository from its own location
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['yaml'],
  plugins: [lazyBuiltins, vendor],
  // import.meta.url made only when asked (a file URL costs a millisecond of start-up);
  // __vfioctl_dir is the bundle's directory, for context.ts without a URL at all
  define: { 'import.meta.url': '__vfioctl_meta.url' },
  banner: { js: "const __vfioctl_meta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };\nconst __vfioctl_dir = __dirname;" },
  logLevel: 'warning',
});

// Two rewrites of the bundle, each worth milliseconds of every start:
// - a namespace import of a Node built-in (`import * as fs from 'node:fs'`) is the module
//   object itself rather than esbuild's copy of it (__toESM copies its ~100 properties once
//   per importing module); only where nothing reads that import's `.default`;
// - the file is plain ASCII (non-ASCII characters, in comments and a few strings and
//   regular expressions, written as \u escapes, which mean the same there): one such
//   character makes Node read the whole bundle as a two-byte string.
{
  const { readFileSync, writeFileSync } = await import('node:fs');
  const out = path.join(root, 'dist/src/cli/vfioctl.cjs');
  let code = readFileSync(out, 'utf8');
  code = code.replace(/^(\s*(?:var )?)([\w$]+) = __toESM\(require\("(node:[\w/]+)"\), 1\);$/gm, (all, lead, v, id) =>
    new RegExp(`(?<![\\w$.])${v.replace(/\$/g, '\\$')}\\.default\\b`).test(code) ? all : `${lead}${v} = require("${id}");`);
  // the vendor files are CommonJS: required, not imported (see VENDOR above)
  code = code.replace(/\bimport\("(\.\/vendor-[a-z]+\.cjs)"\)/g, 'Promise.resolve(require("$1"))');
  if (/\bimport\(/.test(code.replace(/\/\/.*$/gm, ''))) throw new Error('build-bin: the bundle still has an import() (vm.Script gives it no loader)');
  code = code.replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  writeFileSync(out, code);
}

// The V8 code cache for the bundle (see bin/vfioctl): compile it, run the commands whose
// start-up matters (status --json, override, dmesg, a refusal) on a scratch machine in this
// process so their functions are compiled too, and keep what V8 compiled.
{
  const { createRequire } = await import('node:module');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const require = createRequire(import.meta.url);
  const { loadBundle, BUNDLE } = require(path.join(root, 'bin', 'vfioctl'));
  const { exports: cli, script } = loadBundle();
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-build-'));
  try {
    const state = path.join(dir, 'state.json');
    const quiet = { write() {} };
    const ctx = { ...cli.processContext(), stdout: quiet, stderr: quiet, stdoutIsTTY: false, stderrIsTTY: false, env: { HOME: dir } };
    // the machine is booted by another process: only the functions of the commands below go into the cache
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, [path.join(root, 'bin', 'vfioctl'), '--state', state, '-q', 'load', 'default'], { stdio: 'ignore', env: { ...process.env, HOME: dir } });
    for (const argv of [['status', '--json'], ['status'], ['override', 'fff52000.dma', 'vfio-platform'], ['override', 'fff52000.dma', '--clear'], ['bind', 'fff52000.dma'], ['dmesg'], ['--json', 'groups']]) {
      await cli.main(['--state', state, ...argv], ctx);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(BUNDLE + '.cache', script.createCachedData());
}
