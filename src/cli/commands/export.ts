/**
 * export <dir>: the machine's sysfs and /dev/vfio as a real directory tree with the Linux
 * layout, so that ls -l, cat, readlink and find can be used on it. Attributes become
 * regular files (their sysfs mode, the contents `sysfs cat` gives, empty when write-only),
 * links become relative symbolic links (as sysfs shows them), character devices become
 * empty regular files (mknod needs privileges).
 *
 * Safety: nothing is written through a symbolic link that is already there (directories
 * with mkdir, files with O_CREAT|O_EXCL|O_NOFOLLOW, links with symlink(2): each fails on
 * an existing entry instead of following it), every path written is checked to stay
 * inside the target, and --force removes only the sys/ and dev/ an earlier export made.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Out } from '../main.js';
import { withMachineLogged as withMachine } from '../runner.js';
import { shq, type Sys } from '../sys.js';
import { KernelError } from '../../base/errors.js';
import { isErrnoName, errnoText, type ErrnoName } from '../../base/errno.js';
import { type VDir, linkText, readable, isFileName } from '../../sysfs/vfs.js';

/** The file an export leaves at the top of its directory; --force replaces only what it marks. */
export const MARKER = '.vfioctl-export';
/** What an export creates at the top of the target (and what --force may remove). */
const TOP = ['sys', 'dev'] as const;

/** One entry of the tree to write; `path` is the machine path ("/sys/bus/platform"). */
type PlanEntry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; mode: number; content: string; rdev?: string }
  | { kind: 'link'; path: string; target: string };

interface ExportResult {
  dir: string;
  files: number;
  links: number;
  dirs: number;
  /** character devices written as empty regular files (counted in files too) */
  devNodes: number;
}

function refuse(code: ErrnoName, p: string, message: string, hint?: string): KernelError {
  return new KernelError(code, { op: 'exec', path: p, message: `export: ${message}`, hint });
}

/** A file name that a directory entry may have: never empty, '.', '..', or with '/' or NUL. */
function checkName(name: string, parent: string): void {
  if (!isFileName(name)) {
    throw refuse('EINVAL', parent, `refusing to export an entry named ${JSON.stringify(name)} under ${parent}: not a valid file name`, 'the machine has a device or driver whose name cannot be a file name; nothing was written');
  }
}

/** Walk the generated tree (never following links) into the list of entries to write, parents first. */
function planExport(root: VDir): PlanEntry[] {
  const out: PlanEntry[] = [];
  const walk = (d: VDir, at: string): void => {
    for (const name of d.list().sort()) {
      checkName(name, at || '/');
      const n = d.lookup(name);
      const p = `${at}/${name}`;
      if (!n) continue;
      switch (n.kind) {
        case 'dir':
          out.push({ kind: 'dir', path: p });
          walk(n, p);
          break;
        case 'link':
          out.push({ kind: 'link', path: p, target: linkText(p, n.target) });
          break;
        case 'chr':
          out.push({ kind: 'file', path: p, mode: n.mode, content: '', rdev: n.rdev });
          break;
        default:
          // what read(2) returns; a write-only attribute (no read bit or no show) stays empty
          out.push({ kind: 'file', path: p, mode: n.mode, content: readable(n) ? n.show() : '' });
      }
    }
  };
  walk(root, '');
  return out;
}

/** Node's error as the errno it carries (EACCES, ENOSPC…), or unchanged when it has none we know. */
function hostError(e: unknown, p: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && isErrnoName(code)) return refuse(code, p, `${p}: ${errnoText(code)}`);
  return e;
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostError(e, p);
  }
}

function linkRefusal(p: string, what: string): KernelError {
  let to = '';
  try {
    to = ` (-> ${fs.readlinkSync(p)})`;
  } catch {
    // gone or unreadable: the message without the target is still right
  }
  return refuse('ELOOP', p, `${what} ${p} is a symbolic link${to}; export never writes through a link`, 'nothing was written; give a real directory (for a link to one: vfioctl export "$(realpath DIR)"), or remove the link');
}

/**
 * Make `dir` ready: create it if missing; refuse a link, a non-directory, a non-empty
 * directory without --force; with --force remove only the sys/ and dev/ of an earlier
 * export (every check is made before anything is removed).
 */
function prepareTarget(dir: string, force: boolean): void {
  const st = lstatOrNull(dir);
  if (!st) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw hostError(e, dir);
    }
    return;
  }
  if (st.isSymbolicLink()) throw linkRefusal(dir, 'target');
  if (!st.isDirectory()) throw refuse('ENOTDIR', dir, `${dir} is not a directory`, 'give a new or empty directory');
  const names = fs.readdirSync(dir);
  if (names.length === 0) return;
  const marker = path.join(dir, MARKER);
  const ms = lstatOrNull(marker);
  if (!force) {
    throw refuse('EEXIST', dir, `${dir} is not empty`, ms
      ? 'it holds an earlier export: add --force to replace its sys/ and dev/ (nothing else in it is touched)'
      : 'give a new or empty directory (--force replaces only the sys/ and dev/ an earlier export made)');
  }
  if (ms && !ms.isFile()) {
    if (ms.isSymbolicLink()) throw linkRefusal(marker, 'marker');
    throw refuse('EEXIST', marker, `${marker} is not a file vfioctl export wrote`, 'move it away, or give another directory');
  }
  const old: string[] = [];
  for (const top of TOP) {
    const p = path.join(dir, top);
    const s = lstatOrNull(p);
    if (!s) continue;
    if (s.isSymbolicLink()) throw linkRefusal(p, 'existing');
    if (!s.isDirectory()) throw refuse('EEXIST', p, `${p} exists and is not a directory an export made`, 'move it away, or give another directory');
    if (!ms) throw refuse('EEXIST', p, `${p} exists and was not made by vfioctl export (no ${MARKER} file in ${dir})`, 'vfioctl removes only what an earlier export made: move it away, or give another directory');
    old.push(p);
  }
  try {
    // rmSync never follows symbolic links: links inside the old tree are removed, not their targets
    for (const p of old) fs.rmSync(p, { recursive: true, force: true });
    if (ms) fs.unlinkSync(marker);
  } catch (e) {
    throw hostError(e, dir);
  }
}

/** `base` joined with a machine path, refused unless it stays inside `base`. */
function inside(base: string, machinePath: string): string {
  const p = path.resolve(base, '.' + machinePath);
  if (!p.startsWith(base.endsWith(path.sep) ? base : base + path.sep)) throw refuse('EINVAL', p, `refusing to write ${p}: it is outside ${base}`, 'nothing outside the target directory is ever written');
  return p;
}

/** Create a regular file that must not exist yet (never through a link), with exactly `mode`. */
function createFile(p: string, content: string, mode: number): void {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    if (content.length) fs.writeSync(fd, content);
    fs.fchmodSync(fd, mode); // not subject to the umask, unlike open's mode
  } finally {
    fs.closeSync(fd);
  }
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** Write the plan under `base` (prepared, absolute), recording each step as the shell line it stands for. */
function writeExport(base: string, plan: readonly PlanEntry[], sys: Sys, model: string): ExportResult {
  const res: ExportResult = { dir: base, files: 0, links: 0, dirs: 0, devNodes: 0 };
  let at = base;
  try {
    at = inside(base, '/' + MARKER);
    createFile(at, `vfioctl export of ${model}\nvfioctl export --force replaces the sys/ and dev/ next to this file\n`, 0o644);
    for (const e of plan) {
      at = inside(base, e.path);
      if (e.kind === 'dir') {
        fs.mkdirSync(at, 0o755); // fails on anything already there, link or not
        fs.chmodSync(at, 0o755);
        sys.record(`mkdir ${shq(at)}`, 'a sysfs directory', 'ok');
        res.dirs++;
      } else if (e.kind === 'link') {
        fs.symlinkSync(e.target, at);
        sys.record(`ln -s ${shq(e.target)} ${shq(at)}`, 'a sysfs link, relative as the kernel makes it', 'ok');
        res.links++;
      } else {
        createFile(at, e.content, e.mode);
        const src = e.rdev !== undefined || !e.content ? '/dev/null' : shq(e.path);
        const why = e.rdev !== undefined
          ? `stands in for the character device ${e.rdev} (mknod needs privileges)`
          : e.content ? 'an attribute: what read(2) returns, with its mode' : 'a write-only attribute: empty, with its mode';
        sys.record(`install -m ${octal(e.mode)} ${src} ${shq(at)}`, why, 'ok');
        res.files++;
        if (e.rdev !== undefined) res.devNodes++;
      }
    }
  } catch (e) {
    if (e instanceof KernelError) throw e;
    throw hostError(e, at);
  }
  return res;
}

export async function exportCmd(o: Out, dirArg: string, opts: { force?: boolean }): Promise<void> {
  const base = path.resolve(o.ctx.cwd, dirArg);
  await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
    const plan = planExport(sys.root); // every name is checked before anything is written
    prepareTarget(base, opts.force === true);
    const r = writeExport(base, plan, sys, m.model);
    let text = `exported ${m.model} to ${base}: ${r.dirs} directories, ${r.files} files, ${r.links} symbolic links\n`;
    if (r.devNodes) text += `  /dev/vfio nodes are empty regular files (${r.devNodes}): mknod needs privileges\n`;
    o.emit({ ...r }, text, sys.steps);
  });
}
