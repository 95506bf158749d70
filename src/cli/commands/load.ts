/**
 * load <tree>: boot a new machine, replacing the state (refuses to drop open VFIO devices
 * without --force). With --force an unusable state file is moved aside, never overwritten.
 */
import type { Out } from '../main.js';
import { loadTree, note, activeStatePath } from '../session.js';
import { readState, writeState, acquireLock, setAside } from '../../state/store.js';
import { lockTimeoutMs } from '../session.js';
import { StateError, KernelError } from '../../base/errors.js';
import { boot } from '../../base/boot.js';
import { kernelLines } from '../output.js';

export async function load(o: Out, treeName: string, opts: { force?: boolean; legacy?: boolean; include?: string[] }): Promise<void> {
  (await import('./lesson.js')).refuseDuringLesson(o.ctx, o.g, `load ${treeName}`);
  const tree = await loadTree(o.ctx, treeName, opts.include ?? []);
  const m = boot(tree, { legacyMessages: opts.legacy ?? false });
  const p = activeStatePath(o.ctx, o.g);
  const lock = acquireLock(p, lockTimeoutMs(o.ctx));
  let movedAside: string | null = null;
  try {
    for (const pid of lock.recovered) note(o.ctx, o.g, `removed a stale lock left by pid ${pid}, which no longer runs`);
    let old = null;
    let unusable: StateError | null = null;
    try {
      old = readState(p);
    } catch (e) {
      if (!(e instanceof StateError) || !opts.force) throw e;
      unusable = e;
    }
    const open = old ? old.devices.filter((d) => d.vfio && d.vfio.openCount > 0) : [];
    if (open.length && !opts.force) {
      throw new KernelError('EBUSY', {
        op: 'exec',
        path: p,
        message: `the current machine has open VFIO devices (${open.map((d) => d.name).join(', ')}); loading a new tree would throw them away`,
        hint: `close them (vfioctl close DEVICE) or add --force`,
      });
    }
    if (!o.g.dryRun) {
      // never overwrite what we could not read: keep it next to the new state
      if (unusable) movedAside = setAside(p);
      writeState(p, m);
    }
    if (unusable) {
      note(o.ctx, o.g, movedAside ? `the state file was unusable (${unusable.message}); moved it aside to ${movedAside}` : `the state file is unusable (${unusable.message}); --dry-run: it would be moved aside to ${p}.corrupt-<time>`);
    }
  } finally {
    lock.release();
  }
  const bound = m.devices.filter((d) => d.driver).length;
  const data = {
    machine: { model: m.model, tree: m.tree.file, format: m.tree.format },
    devices: m.devices.length,
    iommuGroups: m.groups.length,
    bound,
    dmesg: m.log.map((l) => l.text).filter((t) => /duplicate|failed/.test(t)),
    ...(movedAside ? { movedAside } : {}),
  };
  const steps = [
    ...(/\.dts$/.test(treeName) ? [{ command: `dtc -I dts -O dtb -o board.dtb ${treeName}`, why: 'compile the source into the blob a bootloader hands to the kernel (cpp first if it has #include)' }] : []),
    { command: 'reboot', why: 'a real kernel reads its device tree only at boot: install the new .dtb where the bootloader loads it (e.g. U-Boot: load it, then booti with its address) and reboot' },
    { command: 'ls /sys/bus/platform/devices', why: 'the devices of_platform_populate created from the new tree' },
  ];
  o.emit(data, `booted ${m.model} from ${m.tree.file} (${m.tree.format}): ${m.devices.length} devices, ${m.groups.length} IOMMU groups, ${bound} bound to host drivers\n` + kernelLines(data.dmesg), steps);
}
