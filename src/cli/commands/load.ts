/**
 * load <tree>: boot a new machine, replacing the state (refuses to drop open VFIO devices
 * without --force). With --force an unusable state file is moved aside, never overwritten.
 */
import type { Out } from '../main.js';
import { loadTree, note, sessionOptions } from '../session.js';
import { replaceState } from '../../state/session.js';
import { KernelError } from '../../base/errors.js';
import { boot } from '../../base/boot.js';
import { kernelLines } from '../output.js';

export async function load(o: Out, treeName: string, opts: { force?: boolean; legacy?: boolean; include?: string[] }): Promise<void> {
  (await import('./lesson.js')).refuseDuringLesson(o.ctx, o.g, `load ${treeName}`);
  const tree = await loadTree(o.ctx, treeName, opts.include ?? []);
  const m = boot(tree, { legacyMessages: opts.legacy ?? false });
  const so = sessionOptions(o.ctx, o.g);
  const p = so.path;
  const { movedAside, unusable } = await replaceState(so, m, {
    force: opts.force ?? false,
    check: (old) => {
      const open = old ? old.devices.filter((d) => d.vfio && d.vfio.openCount > 0) : [];
      if (open.length && !opts.force) {
        throw new KernelError('EBUSY', {
          op: 'exec',
          path: p,
          message: `the current machine has open VFIO devices (${open.map((d) => d.name).join(', ')}); loading a new tree would throw them away`,
          hint: `close them (vfioctl close DEVICE) or add --force`,
        });
      }
    },
  });
  if (unusable) {
    note(o.ctx, o.g, movedAside ? `the state file was unusable (${unusable.message}); moved it aside to ${movedAside}` : `the state file is unusable (${unusable.message}); --dry-run: it would be moved aside to ${p}.corrupt-<time>`);
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
