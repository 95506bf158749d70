/**
 * export <dir>: the machine's sysfs and /dev/vfio as a real directory tree with the Linux
 * layout, so that ls -l, cat, readlink and find can be used on it. Attributes become
 * regular files (their sysfs mode, the contents `sysfs cat` gives, empty when write-only),
 * links become relative symbolic links (as sysfs shows them), character devices become
 * empty regular files (mknod needs privileges).
 *
 * Safety (a target that changes while it is written, concurrent exports, --force): the
 * writer in ../export-writer.ts.
 */
import * as path from 'node:path';
import type { Out } from '../main.js';
import { withMachineLogged as withMachine } from '../runner.js';
import { type VDir, linkText, readable, isFileName } from '../../sysfs/vfs.js';
import { refuse, writeExportTree, type PlanEntry } from '../export-writer.js';

export { MARKER } from '../export-writer.js';

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

export async function exportCmd(o: Out, dirArg: string, opts: { force?: boolean }): Promise<void> {
  const base = path.resolve(o.ctx.cwd, dirArg);
  await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
    const plan = planExport(sys.root); // every name is checked before anything is written
    const counts = writeExportTree(base, plan, { force: opts.force === true, model: m.model, record: (cmd, why) => sys.record(cmd, why, 'ok') });
    const r = { dir: base, ...counts };
    let text = `exported ${m.model} to ${base}: ${r.dirs} directories, ${r.files} files, ${r.links} symbolic links\n`;
    if (r.devNodes) text += `  /dev/vfio nodes are empty regular files (${r.devNodes}): mknod needs privileges\n`;
    o.emit({ ...r }, text, sys.steps);
  });
}
