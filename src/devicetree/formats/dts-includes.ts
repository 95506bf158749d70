/**
 * Before cpp or dtc run: follow every `#include "…"`, `#include <…>` (cpp, searched as
 * cpp's `-I` list does: "…" first in the including file's directory) and `/include/ "…"`
 * (dtc, the including file's directory, then `-i`) and refuse any target that is not a
 * regular file — `/dev/zero` would grow cpp without bound, a FIFO would block it — at the
 * `file:line:column` of the directive. Targets that do not exist are left to cpp and dtc,
 * which say so at the same place; computed includes (`#include MACRO`) are not followed,
 * and the process limits in dts.ts bound them instead.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TreeError } from '../tree.js';
import { readBoundedFile } from './file.js';

/** Most files one `.dts` may pull in (a kernel board pulls in a few dozen). */
export const MAX_INCLUDED_FILES = 1000;

const CPP_INCLUDE = /^[ \t]*#[ \t]*include[ \t]*(?:"([^"\n]+)"|<([^>\n]+)>)/;
const DTC_INCLUDE = /\/include\/[ \t]*"([^"\n]+)"/;

interface Directive {
  target: string;
  /** searched in the including file's directory first */
  quoted: boolean;
  dtc: boolean;
  line: number;
  column: number;
}

/** The include directives of one source text (cpp's and dtc's). */
export function includeDirectives(source: string): Directive[] {
  const out: Directive[] = [];
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (!l.includes('include')) continue;
    const c = CPP_INCLUDE.exec(l);
    if (c) {
      out.push({ target: (c[1] ?? c[2])!, quoted: c[1] !== undefined, dtc: false, line: i + 1, column: l.indexOf('#') + 1 });
      continue;
    }
    const d = DTC_INCLUDE.exec(l);
    if (d) out.push({ target: d[1]!, quoted: true, dtc: true, line: i + 1, column: d.index + 1 });
  }
  return out;
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The first candidate that exists (symbolic links followed), as cpp and dtc search. */
async function resolve(d: Directive, from: string, includeDirs: readonly string[]): Promise<{ file: string; st: import('node:fs').Stats } | null> {
  const dirs = path.isAbsolute(d.target) ? [''] : [...(d.quoted ? [path.dirname(from)] : []), ...includeDirs];
  for (const dir of dirs) {
    const file = dir === '' ? d.target : path.join(dir, d.target);
    try {
      return { file, st: await stat(file) };
    } catch {
      // not here: the next directory, as cpp does
    }
  }
  return null;
}

/**
 * Check every file `top` includes, transitively. `includeDirs` are the directories cpp
 * and dtc get (`-I`/`-i`, the top file's own directory first). Throws TreeError.
 */
export async function checkIncludes(top: string, source: string, includeDirs: readonly string[]): Promise<void> {
  const seen = new Set<string>([path.resolve(top)]);
  const queue: { file: string; source: string }[] = [{ file: top, source }];
  for (let item = queue.shift(); item; item = queue.shift()) {
    for (const d of includeDirectives(item.source)) {
      const found = await resolve(d, item.file, includeDirs);
      if (!found) continue;
      const loc = { file: item.file, line: d.line, column: d.column };
      const how = d.dtc ? `/include/ "${d.target}"` : `#include ${d.quoted ? `"${d.target}"` : `<${d.target}>`}`;
      if (!found.st.isFile()) {
        throw new TreeError(`${how}: ${found.file} is ${kindOf(found.st)}; an included file must be a regular file`, loc);
      }
      const abs = path.resolve(found.file);
      if (seen.has(abs)) continue;
      seen.add(abs);
      if (seen.size > MAX_INCLUDED_FILES) throw new TreeError(`${how}: more than ${MAX_INCLUDED_FILES} files included`, loc);
      // headers need not be UTF-8 (cpp does not care): decode leniently, only directives matter
      queue.push({ file: found.file, source: new TextDecoder().decode(await readBoundedFile(found.file)) });
    }
  }
}
