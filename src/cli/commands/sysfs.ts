/** sysfs cat | write | ls: the raw file view, with Linux's contents and errno. */
import type { Sys } from '../sys.js';
import type { VEntry } from '../../sysfs/vfs.js';

export function sysfsCat(sys: Sys, path: string): string {
  return sys.read(path, 'read the attribute');
}

export function sysfsWrite(sys: Sys, path: string, value: string, newline: boolean): number {
  return sys.write(path, value, 'write the attribute', { newline });
}

export function sysfsLs(sys: Sys, path: string): VEntry[] {
  return sys.ls(path, 'list the directory');
}

export function lsText(entries: readonly VEntry[]): string {
  return entries
    .map((e) => {
      const mode = e.type + perm(e.mode);
      return `${mode} ${e.name}${e.type === 'l' ? ` -> ${e.target}` : ''}`;
    })
    .join('\n') + (entries.length ? '\n' : '');
}

function perm(mode: number): string {
  const bits = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}
