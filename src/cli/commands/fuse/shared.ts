/** What run, mount and umount share: the state file they serve, the bin that the shims and daemons start. */
import * as path from 'node:path';
import type { RunContext } from '../../command.js';
import { withMachine, activeStatePath } from '../../session.js';
import { REPO_ROOT } from '../../context.js';

export const BIN = path.join(REPO_ROOT, 'bin', 'vfioctl');

/** the state file the filesystem serves: it must exist (the default machine boots on first use) */
export async function servedState(rc: RunContext): Promise<string> {
  await withMachine(rc.ctx, rc.g, 'read', () => undefined);
  return activeStatePath(rc.ctx, rc.g);
}

export function uid(): number {
  return process.getuid?.() ?? 0;
}
