/**
 * Where the state file is, and the names vfioctl gives the files next to it.
 * (The kernel has no counterpart: this is the simulator's own memory.)
 */
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

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

/** A random token naming one temporary file (12 hex digits: no two writers pick the same). */
export const newToken = (): string => randomBytes(6).toString('hex');

/** `<file>.tmp.<token>`: the temporary file a write of `file` renames into place */
export const tmpPath = (file: string, token: string): string => `${file}.tmp.${token}`;

/** the name pattern of tmpPath, for recognising leftovers (their content must say so too) */
export const TMP_SUFFIX = /^\.tmp\.([0-9a-f]{12})$/;
