/**
 * Helpers for tests that run the real bin/vfioctl in child processes: a generated
 * device tree, a seeded random source, spawning with a record of the children (so that
 * `after` hooks can kill what is left), temporary directories removed afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { run } from './helpers.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './helpers.js';

export const BIN = path.join(REPO, 'bin', 'vfioctl');

/** Long versions (npm run test:stress) when VFIOCTL_STRESS=1. */
export const STRESS = process.env['VFIOCTL_STRESS'] === '1';

/** The bench's generated tree (scripts/bench-tree.mjs): n platform devices `<addr>.dev`, each bound at boot to bench-dev. */
const benchTree = (await import(pathToFileURL(path.join(REPO, 'scripts', 'bench-tree.mjs')).href)) as { benchTree(n: number): string; benchDevName(i: number): string };
export const generatedTree = (n: number): string => benchTree.benchTree(n);
export const devName = (i: number): string => benchTree.benchDevName(i);

/** mulberry32: a small seeded generator, so that a failing run can be repeated (seed in the diagnostics). */
export function rng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)]! };
}
export function seedFromEnv(): number {
  const s = Number(process.env['VFIOCTL_STRESS_SEED']);
  return Number.isInteger(s) ? s : Math.floor(Math.random() * 2 ** 31);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

const children = new Set<ChildProcess>();

/** Kill every child still running (for `after` hooks). */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

/** Start a process; `done` resolves once it has exited and its output is read (it is reaped). */
export function start(cmd: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(cmd, args, { cwd: REPO, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir(), NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr, pid: child.pid! });
    });
  });
  return { child, done };
}

/** Run the real vfioctl on a state file. */
export function vfioctl(state: string, argv: string[], env: Record<string, string> = {}): Promise<Exit> {
  return start(process.execPath, [BIN, '--state', state, ...argv], env).done;
}

const dirs: string[] = [];
export function tempDir(prefix = 'vfioctl-rel-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A pid that is certainly not running: a child that has exited and been reaped. */
export async function deadPid(): Promise<number> {
  const r = await start(process.execPath, ['-e', '0']).done;
  return r.pid;
}

/** A state file holding a generated machine of n bench devices (all bound to bench-dev), in a temp dir of tempDir(). */
export async function generatedMachine(n: number): Promise<string> {
  const dir = tempDir();
  const tree = path.join(dir, 'tree.yaml');
  writeFileSync(tree, generatedTree(n));
  const p = path.join(dir, 'state.json');
  const r = await run(p, '-q', 'load', tree);
  assert.equal(r.code, 0, r.stderr);
  return p;
}
