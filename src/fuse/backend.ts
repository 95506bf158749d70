/**
 * The machine behind the filesystem, through the session API (src/state/session.ts): reads
 * see the state file as it is now (decoded again only when the file was replaced, which
 * every save does), and each write(2) is one store under the state lock, saved with the
 * kernel's side effects even when the store refuses (its log lines stay, as on Linux).
 */
import type { Machine } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { withState, type SessionOptions } from '../state/session.js';
import { tick, logSince, devWarn } from '../klog/klog.js';
import { sysRoot, missingPathReason } from '../sysfs/tree.js';
import { vwrite, type VDir } from '../sysfs/vfs.js';
import { advance } from '../userspace/activity.js';

export interface WriteResult {
  /** the count the store returned */
  count: number;
  /** kernel log lines the write printed */
  dmesg: string[];
}

/** A write that the kernel would make wait: an unbind of a device whose VFIO fd is open. */
export class BlockedWrite extends Error {
  constructor(readonly device: string, readonly dmesg: string[]) {
    super(`unbind of ${device} waits until its VFIO device fd is released`);
  }
}

export interface Backend {
  /** the state file */
  readonly path: string;
  /** the machine and its sysfs tree as they are now (not to be changed) */
  current(): Promise<{ m: Machine; root: VDir }>;
  /** one write(2) of `data` to `path` (a /sys path); rejects with KernelError or BlockedWrite */
  write(path: string, data: string): Promise<WriteResult>;
  /** the task `comm` (`pid`) was signalled while blocked on `device`: vfio_unregister_group_dev logs it */
  logBlockedTask(device: string, comm: string, pid: number): Promise<void>;
  /** whether a VFIO fd of `device` is still open */
  deviceOpen(device: string): Promise<boolean>;
}

/** The session options of a server on `path`: the machine must exist (the command boots it first). */
export function serverSession(path: string, lockTimeoutMs: number): SessionOptions {
  return {
    path,
    lockTimeoutMs,
    cache: true,
    boot: () => {
      throw new KernelError('EIO', { op: 'read', message: `the state file ${path} is gone` });
    },
    // time passes before each change, as for every mutating command
    beforeWrite: (m) => {
      tick(m);
      advance(m);
    },
  };
}

export function stateBackend(path: string, lockTimeoutMs: number): Backend {
  const o = serverSession(path, lockTimeoutMs);
  const roots = new WeakMap<Machine, VDir>();
  const rootOf = (m: Machine): VDir => {
    let r = roots.get(m);
    if (!r) roots.set(m, (r = sysRoot(m)));
    return r;
  };
  return {
    path,
    current: () => withState(o, 'read', (m) => ({ m, root: rootOf(m) })),
    write: (p, data) =>
      withState(o, 'write', (m) => {
        const before = m.log.length;
        try {
          return { count: vwrite(sysRoot(m), p, data, (x) => missingPathReason(m, x)), dmesg: logSince(m, before) };
        } catch (e) {
          if (e instanceof KernelError && e.code === 'EWOULDBLOCK' && p.endsWith('/unbind')) {
            // nothing changed yet, nothing is saved: the writer sleeps (without the lock) until the fd is closed
            throw new BlockedWrite(writtenName(data), logSince(m, before));
          }
          if (e instanceof KernelError) e.dmesg = logSince(m, before);
          throw e;
        }
      }),
    logBlockedTask: (device, comm, pid) =>
      withState(o, 'write', (m) => {
        const dev = m.devices.find((d) => d.name === device);
        if (dev) devWarn(m, dev, `Device is currently in use, task "${comm}" (${pid}) blocked until device is released`);
      }),
    deviceOpen: (device) =>
      withState(o, 'read', (m) => {
        const dev = m.devices.find((d) => d.name === device);
        return dev?.vfio !== null && dev?.vfio !== undefined && dev.vfio.openCount > 0;
      }),
  };
}

/** The device name a bind/unbind write names (sysfs_streq: up to a NUL, one trailing newline). */
export function writtenName(data: string): string {
  const nul = data.indexOf('\0');
  return (nul >= 0 ? data.slice(0, nul) : data).replace(/\n$/, '');
}
