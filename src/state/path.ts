/**
 * Where the state file is, and the names vfioctl gives the files next to it.
 * (The kernel has no counterpart: this is the simulator's own memory.)
 */
import * as path from 'node:path';

export interface StateEnv {
  env: Record<string, string | undefined>;
  homedir: string;
}

/** --state, else $VFIOCTL_STATE, else $XDG_STATE_HOME/vfioctl/state.json, else ~/.local/state/vfioctl/state.json */
export function statePath(flag: string | undefined, e: StateEnv): string {
  if (flag) return path.resolve(flag);
  if (e.env['VFIOCTL_STATE']) return path.resolve(e.env['VFIOCTL_STATE']);
  const xdg = e.env['XDG_STATE_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'vfioctl', 'state.json');
  return path.join(e.homedir, '.local', 'state', 'vfioctl', 'state.json');
}

/** the lock file of `file` (kept only while a command holds it) */
export const lockPath = (file: string): string => `${file}.lock`;

/**
 * A random token naming one temporary file: 12 hex digits (48 bits of V8's per-process
 * randomly seeded generator; node:crypto would cost a millisecond of start-up to load).
 * Files named with it are created with O_EXCL, so a clash is refused, never shared.
 */
export const newToken = (): string => Math.floor(Math.random() * 2 ** 48).toString(16).padStart(12, '0');

/** `<file>.tmp.<token>`: the temporary file a write of `file` renames into place */
export const tmpPath = (file: string, token: string): string => `${file}.tmp.${token}`;

/** the name pattern of tmpPath, for recognising leftovers (their content must say so too) */
export const TMP_SUFFIX = /^\.tmp\.([0-9a-f]{12})$/;
