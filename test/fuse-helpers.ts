/** What the FUSE tests need, and why they skip without it (shown by the test runner). */
import { existsSync, readFileSync, readdirSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function onPath(tool: string): boolean {
  return (process.env['PATH'] ?? '/usr/bin:/bin:/usr/sbin:/sbin').split(':').some((d) => d !== '' && existsSync(path.join(d, tool)));
}

/** false when `vfioctl run`/`mount` can work here, else the reason the tests skip */
export function fuseSkip(): false | string {
  if (process.platform !== 'linux') return 'FUSE tests need Linux';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (kernel without FUSE, or a container without the device)';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is not readable and writable for this user';
  }
  if (process.getuid?.() !== 0) return 'the FUSE tests run as root (CI does); as an ordinary user vfioctl run needs user namespaces and gives no /dev/vfio';
  for (const t of ['unshare', 'mount', 'umount']) if (!onPath(t)) return `${t} (util-linux) is not installed`;
  return false;
}

export const DRIVERCTL = ['/usr/sbin/driverctl', '/sbin/driverctl', '/usr/bin/driverctl'].find((p) => existsSync(p)) ?? 'driverctl';

export function driverctlSkip(): false | string {
  return existsSync(DRIVERCTL) ? false : 'driverctl is not installed (Debian package driverctl; .ci/run installs it)';
}

/**
 * FUSE mounts of vfioctl visible in this mount namespace whose mount point is under
 * `under` (the host's mount table is shared by every test file running at the same time:
 * a test counts only the mounts of its own directories)
 */
export function fuseMountCount(under: string): number {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'fuse.vfioctl' && (f[1] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))).startsWith(under)).length;
}

/** the directories vfioctl run makes for itself in the temp directory */
export function runDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('vfioctl-run-')).sort();
}
