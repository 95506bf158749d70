/**
 * The machine behind the filesystem: reads see the state file as it is now (re-parsed only
 * when the file was replaced, which every save does by rename), and each write(2) is one
 * store under the state lock, saved with the kernel's side effects even when the store
 * refuses (its log lines stay, as on Linux).
 */
import * as fs from 'node:fs';
import type { Machine } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { readState, writeState, acquireLock } from '../state/store.js';
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
  /** the machine and its sysfs tree as they are now */
  current(): { m: Machine; root: VDir };
  /** one write(2) of `data` to `path` (a /sys path); throws KernelError or BlockedWrite */
  write(path: string, data: string): WriteResult;
  /** the task `comm` (`pid`) was signalled while blocked on `device`: vfio_unregister_group_dev logs it */
  logBlockedTask(device: string, comm: string, pid: number): void;
  /** whether a VFIO fd of `device` is still open */
  deviceOpen(device: string): boolean;
}

export function stateBackend(path: string, lockTimeoutMs: number): Backend {
  let cached: { key: string; m: Machine; root: VDir } | null = null;
  const key = (): string => {
    try {
      const s = fs.statSync(path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  const current = (): { m: Machine; root: VDir } => {
    const k = key();
    if (cached && cached.key === k) return cached;
    const m = readState(path);
    if (!m) throw new KernelError('EIO', { op: 'read', message: `the state file ${path} is gone` });
    cached = { key: k, m, root: sysRoot(m) };
    return cached;
  };
  const mutate = <T>(fn: (m: Machine) => T): T => withLockedMachine(path, lockTimeoutMs, fn);
  return {
    path,
    current,
    write(p, data) {
      const lock = acquireLock(path, lockTimeoutMs);
      try {
        const m = readState(path);
        if (!m) throw new KernelError('EIO', { op: 'write', message: `the state file ${path} is gone` });
        tick(m);
        advance(m);
        const before = m.log.length;
        try {
          const count = vwrite(sysRoot(m), p, data, (x) => missingPathReason(m, x));
          writeState(path, m);
          return { count, dmesg: logSince(m, before) };
        } catch (e) {
          if (e instanceof KernelError && e.code === 'EWOULDBLOCK' && p.endsWith('/unbind')) {
            // nothing changed yet: the writer sleeps (without the lock) until the fd is closed
            throw new BlockedWrite(writtenName(data), logSince(m, before));
          }
          if (e instanceof KernelError) {
            e.dmesg = logSince(m, before);
            writeState(path, m); // a refused write keeps the kernel's side effects
          }
          throw e;
        }
      } finally {
        lock.release();
      }
    },
    logBlockedTask(device, comm, pid) {
      mutate((m) => {
        const dev = m.devices.find((d) => d.name === device);
        if (dev) devWarn(m, dev, `Device is currently in use, task "${comm}" (${pid}) blocked until device is released`);
      });
    },
    deviceOpen(device) {
      const { m } = current();
      const dev = m.devices.find((d) => d.name === device);
      return dev?.vfio !== null && dev?.vfio !== undefined && dev.vfio.openCount > 0;
    },
  };
}

/**
 * One change under the state lock: read, let time pass (as every mutating command does),
 * apply, save. Throws what `fn` throws, saving nothing then.
 */
export function withLockedMachine<T>(path: string, lockTimeoutMs: number, fn: (m: Machine) => T): T {
  const lock = acquireLock(path, lockTimeoutMs);
  try {
    const m = readState(path);
    if (!m) throw new KernelError('EIO', { op: 'write', message: `the state file ${path} is gone` });
    tick(m);
    advance(m);
    const r = fn(m);
    writeState(path, m);
    return r;
  } finally {
    lock.release();
  }
}

/** The device name a bind/unbind write names (sysfs_streq: up to a NUL, one trailing newline). */
export function writtenName(data: string): string {
  const nul = data.indexOf('\0');
  return (nul >= 0 ? data.slice(0, nul) : data).replace(/\n$/, '');
}
