/**
 * The CLI's side of the session (src/state/session.ts does lock → read → run → write):
 * which state file, the lock timeout, notes on stderr, booting the bundled default tree,
 * the time that passes before a mutating command.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { Context } from './context.js';
import type { Machine } from '../base/machine.js';
import { isRunning } from '../base/machine.js';
import { statePath } from '../state/path.js';
import { withState, type SessionOptions } from '../state/session.js';
import { tick } from '../klog/klog.js';
import { Sys } from './sys.js';
import { UsageError } from '../base/errors.js';
import { TreeError, type DeviceTree } from '../devicetree/tree.js';
import { activeLesson, scratchPath } from '../state/lessons.js';

export interface GlobalOpts {
  state?: string;
  json?: boolean;
  explain?: boolean;
  color?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
}

export function lockTimeoutMs(ctx: Context): number {
  const v = Number(ctx.env['VFIOCTL_LOCK_TIMEOUT']);
  return Number.isFinite(v) && v >= 0 ? v * 1000 : 10_000;
}

export function note(ctx: Context, g: GlobalOpts, text: string): void {
  if (!g.quiet) ctx.stderr.write(`vfioctl: ${text}\n`);
}

/** The learner's own state file: --state, $VFIOCTL_STATE, XDG. */
export function mainStatePath(ctx: Context, g: GlobalOpts): string {
  return statePath(g.state, { env: ctx.env, homedir: ctx.homedir });
}

/** STATE.lessons/active is read once per invocation (the context), however many times it is asked for. */
const lessonSeen = new WeakMap<Context, Map<string, string | null>>();

/** The lesson in progress for the state file `main`, or null. */
export function lessonInProgress(ctx: Context, main: string): string | null {
  let seen = lessonSeen.get(ctx);
  if (!seen) lessonSeen.set(ctx, (seen = new Map()));
  if (!seen.has(main)) seen.set(main, activeLesson(main));
  return seen.get(main)!;
}

/** The state file commands act on: the learner's own, or the scratch machine of the lesson in progress. */
export function activeStatePath(ctx: Context, g: GlobalOpts): string {
  const p = mainStatePath(ctx, g);
  const lesson = lessonInProgress(ctx, p);
  return lesson ? scratchPath(p, lesson) : p;
}

/** Names of the bundled trees (devicetrees/NAME.yaml), sorted. */
export function bundledTreeNames(ctx: Context): string[] {
  return fs.readdirSync(ctx.treesDir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}

/** `default`, a bundled tree name (`highbank`), or a path. */
export function resolveTreeName(ctx: Context, name: string): string {
  if (!name.includes('/') && !name.includes('.')) {
    const p = path.join(ctx.treesDir, `${name}.yaml`);
    if (fs.existsSync(p)) return p;
    const known = bundledTreeNames(ctx);
    throw new UsageError(`no bundled tree named "${name}"`, `bundled trees: ${known.join(', ')}; or give a file path (./board.yaml, board.dts, board.dtb)`);
  }
  return path.resolve(ctx.cwd, name);
}

export async function loadTree(ctx: Context, name: string, includeDirs: string[] = []): Promise<DeviceTree> {
  const { readTreeFile } = await import('../devicetree/formats/read.js');
  const file = resolveTreeName(ctx, name);
  let tree: DeviceTree;
  try {
    tree = await readTreeFile(file, { includeDirs, cwd: ctx.cwd });
  } catch (e) {
    // name the file as the user typed it (bad.yaml:5:16), as compilers do
    if (e instanceof TreeError && e.loc.file === file && path.dirname(file) !== ctx.treesDir) e.loc.file = name;
    throw e;
  }
  // show bundled trees by their short name
  if (path.dirname(file) === ctx.treesDir) tree.file = `devicetrees/${path.basename(file)}`;
  else tree.file = name;
  return tree;
}

export async function bootDefault(ctx: Context): Promise<Machine> {
  const tree = await loadTree(ctx, 'default');
  const { boot } = await import('../base/boot.js');
  return boot(tree);
}

export interface Session {
  m: Machine;
  sys: Sys;
  path: string;
}

/** The session options for the state file commands act on. */
export function sessionOptions(ctx: Context, g: GlobalOpts, p: string = activeStatePath(ctx, g)): SessionOptions {
  return {
    path: p,
    lockTimeoutMs: lockTimeoutMs(ctx),
    dryRun: g.dryRun ?? false,
    boot: () => bootDefault(ctx),
    note: (text) => note(ctx, g, text),
    beforeWrite: async (m) => {
      tick(m);
      // only mutating commands let time pass; the device model is loaded only when a device runs
      if (m.devices.some(isRunning)) {
        const { advance } = await import('../userspace/engine.js');
        advance(m);
      }
    },
  };
}

/**
 * Run `fn` on the machine. In write mode, under the lock; saved when `fn` succeeds and
 * when the simulated kernel refuses (its side effects stay, SPEC §4), not otherwise.
 * (The runner takes the kernel lines the command logged, by clock.)
 */
export async function withMachine<T>(ctx: Context, g: GlobalOpts, mode: 'read' | 'write', fn: (s: Session) => T | Promise<T>): Promise<T> {
  const o = sessionOptions(ctx, g);
  return withState(o, mode, (m) => fn({ m, sys: new Sys(m), path: o.path }));
}
