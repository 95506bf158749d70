/**
 * load <tree>: boot a new machine, replacing the state (refuses to drop open VFIO devices
 * without --force). With --force an unusable state file is moved aside, never overwritten.
 * Machine 'none': the runner's session reads a machine to change; load replaces it
 * whole, through the session API's replace form (src/state/session.ts replaceState).
 */
import { defineCommand, word } from '../../command.js';
import { loadTree, note, sessionOptions } from '../../session.js';
import { replaceState } from '../../../state/session.js';
import { KernelError } from '../../../base/errors.js';
import { boot } from '../../../base/boot.js';
import { kernelLines } from '../../output.js';
import { refuseDuringLesson } from '../teach/lesson-check.js';

export interface LoadOptions {
  tree: string;
  force: boolean;
  legacy: boolean;
  include: string[];
}

export interface LoadData {
  machine: { model: string; tree: string; format: string };
  devices: number;
  iommuGroups: number;
  bound: number;
  /** the boot's lines that say something went wrong (a duplicate name, a failed probe) */
  dmesg: string[];
  movedAside?: string;
}

export default defineCommand({
  name: 'load',
  group: 'machine',
  summary: 'boot a machine from a device tree (replaces the current one)',
  example: 'vfioctl load highbank\nvfioctl load ./board.dts -I ./include\nvfioctl load /sys/firmware/fdt',
  args: [{ name: 'tree', description: 'bundled tree name (default, highbank, p4080, …) or a .yaml/.dts/.dtb file', complete: 'tree' }],
  flags: [
    { flags: '--force', description: 'replace a machine that has open VFIO devices, or a corrupt state file' },
    { flags: '--legacy', description: 'print the older kernels\' messages (≈v4.11–v6.1 vfio-platform, "probe of … failed")' },
    { flags: '-I, --include <dir...>', description: 'include directory for cpp/dtc (.dts input)', complete: 'dir' },
  ],
  machine: 'none',
  options: (p): LoadOptions => ({
    tree: word(p, 0),
    force: p.flags['force'] === true,
    legacy: p.flags['legacy'] === true,
    include: Array.isArray(p.flags['include']) ? (p.flags['include'] as string[]) : [],
  }),
  async run(rc, o: LoadOptions): Promise<LoadData> {
    refuseDuringLesson(rc.ctx, rc.g, `load ${o.tree}`);
    const tree = await loadTree(rc.ctx, o.tree, o.include);
    const m = boot(tree, { legacyMessages: o.legacy });
    const so = sessionOptions(rc.ctx, rc.g);
    const p = so.path;
    const { movedAside, unusable } = await replaceState(so, m, {
      force: o.force,
      check: (old) => {
        const open = old ? old.devices.filter((d) => d.vfio && d.vfio.openCount > 0) : [];
        if (open.length && !o.force) {
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
      note(rc.ctx, rc.g, movedAside ? `the state file was unusable (${unusable.message}); moved it aside to ${movedAside}` : `the state file is unusable (${unusable.message}); --dry-run: it would be moved aside to ${p}.corrupt-<time>`);
    }
    rc.explain(
      ...(/\.dts$/.test(o.tree) ? [{ command: `dtc -I dts -O dtb -o board.dtb ${o.tree}`, why: 'compile the source into the blob a bootloader hands to the kernel (cpp first if it has #include)' }] : []),
      { command: 'reboot', why: 'a real kernel reads its device tree only at boot: install the new .dtb where the bootloader loads it (e.g. U-Boot: load it, then booti with its address) and reboot' },
      { command: 'ls /sys/bus/platform/devices', why: 'the devices of_platform_populate created from the new tree' },
    );
    return {
      machine: { model: m.model, tree: m.tree.file, format: m.tree.format },
      devices: m.devices.length,
      iommuGroups: m.groups.length,
      bound: m.devices.filter((d) => d.driver).length,
      dmesg: m.log.map((l) => l.text).filter((t) => /duplicate|failed/.test(t)),
      ...(movedAside ? { movedAside } : {}),
    };
  },
  render: (d: LoadData) =>
    `booted ${d.machine.model} from ${d.machine.tree} (${d.machine.format}): ${d.devices} devices, ${d.iommuGroups} IOMMU groups, ${d.bound} bound to host drivers\n` + kernelLines(d.dmesg),
});
