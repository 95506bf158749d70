/**
 * Mounting the filesystem: open /dev/fuse, start serving it, and have util-linux mount(8)
 * mount that already-open connection (`mount -i -t fuse.vfioctl -o fd=3,…`), so neither
 * libfuse nor fusermount is needed. The server never touches the directory it serves.
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { serve } from './channel.js';
import { FuseOps, type Layout, type TraceEvent } from './ops.js';
import { stateBackend } from './backend.js';

export interface MountOptions {
  statePath: string;
  layout: Layout;
  /** where to mount */
  dir: string;
  lockTimeoutMs: number;
  trace?: (e: TraceEvent) => void;
  /** `allow_other,default_permissions`: other users may look, with sysfs's modes enforced by the kernel */
  allowOther?: boolean;
  /** once mounted, serve with blocking reads on this thread (a daemon with nothing else to do) */
  blocking?: boolean;
}

export interface Mounted {
  /** settles when the connection ends (the last unmount) */
  done: Promise<void>;
  ops: FuseOps;
}

/** Why FUSE cannot be used here, in one sentence, or null. */
export function fuseMissing(): string | null {
  if (!fs.existsSync('/dev/fuse')) return '/dev/fuse does not exist (the kernel has no FUSE, or /dev is not populated): load it with modprobe fuse, or run where CONFIG_FUSE_FS is enabled';
  try {
    fs.closeSync(fs.openSync('/dev/fuse', 'r+'));
  } catch (e) {
    return `/dev/fuse cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): it must be readable and writable for this user (mode 0666 as most distributions set it, or run as root)`;
  }
  return null;
}

/** The `comm` of a process, as the kernel would print it in a log line. */
export function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return '?';
  }
}

/** Run a command; resolve with its status and what it printed on stderr. */
export function runTool(cmd: string, args: readonly string[], extraFd?: number): Promise<{ status: number; stderr: string }> {
  return new Promise((res) => {
    const stdio: (number | 'ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe'];
    if (extraFd !== undefined) stdio.push(extraFd);
    const c = spawn(cmd, args, { stdio });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', (e) => res({ status: 127, stderr: `${cmd}: ${e.message}` }));
    c.on('close', (code, sig) => res({ status: code ?? (sig ? 128 : 1), stderr: err.trim() }));
  });
}

export function mountOptions(allowOther: boolean): string {
  return ['nodev', 'nosuid', 'fd=3', 'rootmode=40000', 'user_id=0', 'group_id=0', ...(allowOther ? ['allow_other', 'default_permissions'] : [])].join(',');
}

/** Open /dev/fuse, serve it, mount it at `dir`. Throws with mount(8)'s message if the mount fails. */
export async function mountAt(o: MountOptions): Promise<Mounted> {
  const fd = fs.openSync('/dev/fuse', 'r+');
  const ops = new FuseOps(stateBackend(o.statePath, o.lockTimeoutMs), { layout: o.layout, comm: commOf, ...(o.trace ? { trace: o.trace } : {}) });
  let failed = false;
  let mounted = false;
  const done = serve(fd, ops, { abandoned: () => failed, blocking: () => mounted && o.blocking === true }).finally(() => {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
  });
  const r = await runTool('mount', ['-i', '--no-canonicalize', '-t', 'fuse.vfioctl', '-o', mountOptions(o.allowOther ?? false), 'vfioctl', o.dir], fd);
  if (r.status !== 0) {
    failed = true;
    await done;
    throw new Error(`mount of the FUSE filesystem at ${o.dir} failed: ${r.stderr || `mount exited with status ${r.status}`}`);
  }
  mounted = true;
  return { done, ops };
}
