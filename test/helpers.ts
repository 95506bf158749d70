/** Shared test helpers: repo paths, booting bundled trees in memory, in-process CLI runs. */
import { mkdtempSync, readFileSync, existsSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { boot } from '../src/base/boot.js';
import type { Machine } from '../src/base/machine.js';
import type { DeviceTree, DtNode } from '../src/devicetree/tree.js';
import type { Context } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';

/** compiled tests run from dist/test/, so the repo root is two levels up */
export const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const TREES = path.join(REPO, 'devicetrees');

export function readTree(name: string): DeviceTree {
  const file = path.join(TREES, `${name}.yaml`);
  return parseOwnYaml(readFileSync(file, 'utf8'), file);
}

export function bootTree(name = 'default'): Machine {
  return boot(readTree(name));
}

/** find a node by its full path, e.g. /soc/dma@fff52000 */
export function nodeAt(tree: DeviceTree, p: string): DtNode {
  let n: DtNode = tree.root;
  for (const part of p.split('/').filter(Boolean)) {
    const c = n.children.find((x) => x.name === part);
    if (!c) throw new Error(`no node ${part} under ${p} (have ${n.children.map((x) => x.name).join(', ')})`);
    n = c;
  }
  return n;
}

/** the temporary directories this test process made; removed when it exits */
const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temporary directory that is removed when the test process exits. */
export function tempDir(prefix = 'vfioctl-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function tempState(): string {
  return path.join(tempDir(), 'state.json');
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function testContext(statePath: string, out: { stdout: string; stderr: string }): Context {
  return {
    stdout: { write: (s) => void (out.stdout += s) },
    stderr: { write: (s) => void (out.stderr += s) },
    stdoutIsTTY: false,
    stderrIsTTY: false,
    env: { VFIOCTL_STATE: statePath },
    homedir: path.dirname(statePath),
    cwd: REPO,
    treesDir: TREES,
    sleep: async () => {},
  };
}

/** run vfioctl in-process against a state file */
export async function run(statePath: string, ...argv: string[]): Promise<RunResult> {
  const out = { stdout: '', stderr: '' };
  const code = await main(argv, testContext(statePath, out));
  return { code, ...out };
}

/** run vfioctl in-process; it must succeed */
export async function okRun(statePath: string, ...argv: string[]): Promise<RunResult> {
  const r = await run(statePath, ...argv);
  assert.equal(r.code, 0, `vfioctl ${argv.join(' ')} -> ${r.code}\n${r.stderr}`);
  return r;
}

/** run vfioctl in-process; it must succeed; its stdout */
export async function ok(statePath: string, ...argv: string[]): Promise<string> {
  return (await okRun(statePath, ...argv)).stdout;
}

/** a fresh state file holding a booted machine (the default tree unless named) */
export async function booted(tree = 'default'): Promise<string> {
  const s = tempState();
  await okRun(s, '-q', 'load', tree);
  assert.ok(existsSync(s));
  return s;
}

export function stateBytes(p: string): Buffer | null {
  return existsSync(p) ? readFileSync(p) : null;
}

const GOLDEN = path.join(REPO, 'test', 'golden');

/** compare with test/golden/NAME.txt (UPDATE_GOLDEN=1 rewrites it; a missing one is written and the test fails) */
export function golden(name: string, actual: string, ext = 'txt'): void {
  const file = path.join(GOLDEN, `${name}.${ext}`);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
    if (process.env['UPDATE_GOLDEN'] !== '1') assert.fail(`golden ${file} was missing and has been written; check it and rerun`);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${file} (UPDATE_GOLDEN=1 to rewrite)`);
}

