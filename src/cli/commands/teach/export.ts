/**
 * export <dir>: the machine's sysfs and /dev/vfio as a real directory tree with the Linux
 * layout, so that ls -l, cat, readlink and find can be used on it. Attributes become
 * regular files (their sysfs mode, the contents `sysfs cat` gives, empty when write-only),
 * links become relative symbolic links (as sysfs shows them), character devices become
 * empty regular files (mknod needs privileges).
 *
 * Safety (a target that changes while it is written, concurrent exports, --force): the
 * writer in export-writer.ts beside it.
 */
import * as path from 'node:path';
import { defineCommand, word } from '../../command.js';
import { type VDir, linkText, readable, isFileName } from '../../../sysfs/vfs.js';
import { refuse, writeExportTree, type ExportCounts, type PlanEntry } from './export-writer.js';

export { MARKER } from './export-writer.js';

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

export interface ExportOptions {
  dir: string;
  force: boolean;
}

export interface ExportData extends ExportCounts {
  dir: string;
  /** the machine exported (the text names it; not in the JSON document) */
  model: string;
}

export default defineCommand({
  name: 'export',
  group: 'teach',
  summary: 'write /sys and /dev/vfio as a real directory tree (for ls -l, cat, readlink, find)',
  example: 'vfioctl export /tmp/machine && readlink /tmp/machine/sys/bus/platform/devices/fff51000.ethernet/driver\nvfioctl export --force /tmp/machine   # again, after a change',
  args: [{ name: 'dir', description: 'directory to create (or an empty one)', complete: 'dir' }],
  flags: [{ flags: '--force', description: 'replace the sys/ and dev/ of an earlier export in <dir> (nothing else in it is touched)' }],
  machine: 'read',
  options: (p): ExportOptions => ({ dir: word(p, 0), force: p.flags['force'] === true }),
  run(rc, o: ExportOptions, { m, sys }): ExportData {
    const base = path.resolve(rc.ctx.cwd, o.dir);
    const plan = planExport(sys.root); // every name is checked before anything is written
    const counts = writeExportTree(base, plan, { force: o.force, model: m.model, record: (cmd, why) => sys.record(cmd, why, 'ok') });
    return { dir: base, ...counts, model: m.model };
  },
  render(r: ExportData) {
    let text = `exported ${r.model} to ${r.dir}: ${r.dirs} directories, ${r.files} files, ${r.links} symbolic links\n`;
    if (r.devNodes) text += `  /dev/vfio nodes are empty regular files (${r.devNodes}): mknod needs privileges\n`;
    return text;
  },
  json: ({ model: _model, ...doc }: ExportData) => doc,
});
