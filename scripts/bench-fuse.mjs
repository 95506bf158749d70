// The FUSE cases of `npm run bench` (vfioctl run / mount, issue 12): one sysfs read and one
// write through a mount against the same cat/echo on a tmpfs copy made by `export`, a whole
// listing script (every device's driver link and override) against the same copy, and the
// start-up of `vfioctl run`. Skipped, with the reason, where FUSE cannot be mounted.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Why these cases cannot run here, or null. */
export function fuseBenchSkip() {
  if (process.platform !== 'linux') return 'not Linux';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (process.getuid?.() !== 0) return 'vfioctl mount needs root';
  if (!existsSync('/dev/shm')) return 'no /dev/shm tmpfs for the export copy';
  return null;
}

/**
 * Rows for bench.mjs: { name, ms, node, target, limit } where `node` is what the case is
 * compared with (the tmpfs run for the ratio targets).
 */
export function fuseRows({ BIN, env, RUNS, time, median }) {
  const rows = [];
  const work = mkdtempSync(path.join('/dev/shm', 'vfioctl-bench-fuse-'));
  const state = path.join(work, 'state.json');
  const mnt = path.join(work, 'mnt');
  const copy = path.join(work, 'copy');
  mkdirSync(mnt);
  const vf = (...a) => time([process.execPath, BIN, '--state', state, ...a]);
  let mounted = false;
  try {
    vf('-q', 'load', 'default');
    vf('-q', 'export', copy);
    vf('-q', 'mount', mnt);
    mounted = true;
    const dev = 'bus/platform/devices/fff51000.ethernet/driver_override';
    /** RUNS paired runs: the mount and the tmpfs copy side by side */
    const pair = (argsFor) => {
      const tmpfs = path.join(copy, 'sys');
      time(argsFor(mnt));
      time(argsFor(tmpfs));
      const a = [];
      const b = [];
      for (let i = 0; i < RUNS; i++) {
        b.push(time(argsFor(tmpfs)));
        a.push(time(argsFor(mnt)));
      }
      return { ms: median(a), node: median(b) };
    };
    rows.push({ name: 'cat one attribute: FUSE mount vs tmpfs export', ...pair((root) => ['cat', path.join(root, dev)]), target: 'ratio', limit: 3, vs: 'tmpfs' });
    const listing = 'for d in "$1"/bus/platform/devices/*; do readlink "$d/driver"; cat "$d/driver_override"; done >/dev/null';
    rows.push({ name: 'listing script (every device: driver link, override): FUSE vs tmpfs export', ...pair((root) => ['sh', '-c', listing, 'sh', root]), target: 'ratio', limit: 3, vs: 'tmpfs' });
    rows.push({ name: 'echo to an attribute: FUSE vs tmpfs export', ...pair((root) => ['sh', '-c', `echo 1 > "$1"/bus/platform/drivers_autoprobe`, 'sh', root]), vs: 'tmpfs' });
    // the write(2) itself, from this process: one store under the lock, saved with fsync
    const attr = path.join(mnt, 'bus/platform/drivers_autoprobe');
    const w = [];
    for (let i = 0; i < RUNS * 3; i++) {
      const t0 = process.hrtime.bigint();
      const fd = openSync(attr, 'w');
      writeSync(fd, '1\n');
      closeSync(fd);
      w.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    rows.push({ name: 'write(2) of one attribute through the mount', ms: median(w), node: null, target: 'ms', limit: 10 });
    if (mounted) spawnSync('umount', [mnt]);
    mounted = false;
    const nodeMs = [];
    const runMs = [];
    time([process.execPath, BIN, '--state', state, 'run', 'true']);
    for (let i = 0; i < RUNS; i++) {
      nodeMs.push(time([process.execPath, BIN, '--version']));
      runMs.push(time([process.execPath, BIN, '--state', state, 'run', 'true']));
    }
    rows.push({ name: 'vfioctl --version (start-up of any command)', ms: median(nodeMs), node: null });
    rows.push({ name: 'vfioctl run -- true (namespace, mounts, CMD, teardown)', ms: median(runMs), node: null, target: 'ms', limit: 300 });
  } finally {
    if (mounted) spawnSync('umount', [mnt]);
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}
