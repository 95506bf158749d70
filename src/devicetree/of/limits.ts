/**
 * How big a machine a tree may populate (README "Limits on input", tree part). The file
 * readers bound what it costs to read a tree; these bound what the tree turns into: the
 * devices, their resources and their strings, all of which every later command decodes
 * from the state file and writes back. A tree past a limit is refused at load (exit 3)
 * at the node that crosses it, with the limit named, so no accepted tree can make a
 * state file that slows every command down.
 *
 * Two come from Linux itself: a sysfs entry name longer than NAME_MAX (255) or a path
 * longer than PATH_MAX (4,096 with its NUL) cannot be opened from user space. The others
 * are far above any real board (the largest of the six Linux boards in the tests has
 * 135 devices, 65 interrupts on one device, 5 MEM regions, 69-byte compatible lists) and
 * keep the largest accepted state within the bound the README states.
 */
import { TreeError, getProp, nodePath } from '../tree.js';
import type { DeviceTree, SourceLoc } from '../tree.js';
import type { DeviceDesc } from './populate.js';

/** Most devices one machine has (the benchmark's largest machine, 10,000 devices, with room). */
export const MAX_DEVICES = 12_000;
/** Most MEM regions (`reg` entries) and most interrupts of one device. */
export const MAX_DEVICE_REGIONS = 1024;
export const MAX_DEVICE_IRQS = 1024;
/** Most regions + interrupts + IOMMU and reset references of all devices together. */
export const MAX_RESOURCES = 50_000;
/** Most `compatible` bytes of one device (NULs included). */
export const MAX_DEVICE_COMPATIBLE = 4096;
/** Most bytes of all devices' names, node paths, sysfs paths, compatible strings and device types. */
export const MAX_STRING_BYTES = 2 * 1024 * 1024;
/** Most bytes of the root's `model` (shown by `status` and logged at boot). */
export const MAX_MODEL = 4096;
/** NAME_MAX and PATH_MAX - 1 (include/uapi/linux/limits.h) */
export const NAME_MAX = 255;
export const PATH_MAX = 4095;

const n = (x: number): string => x.toLocaleString('en-US');

/** Counts one machine's devices against the limits above as they are created. */
export class MachineBudget {
  private devices = 0;
  private resources = 0;
  private strings = 0;
  constructor(private readonly tree: DeviceTree) {
    const model = getProp(tree.root, 'model');
    if (model && model.value.length > MAX_MODEL) {
      throw new TreeError(`"model" is ${n(model.value.length)} bytes (its NUL included); a model is at most ${n(MAX_MODEL)} here`, model.loc ?? { file: tree.file });
    }
  }

  private fail(d: DeviceDesc, message: string): never {
    const loc: SourceLoc = d.node.loc ?? { file: this.tree.file };
    throw new TreeError(`${message}; vfioctl refuses trees past this limit (README "Limits on input")`, loc);
  }

  /** Account for one device about to be registered; throws TreeError past a limit. */
  add(d: DeviceDesc): void {
    const at = nodePath(d.node);
    if (++this.devices > MAX_DEVICES) this.fail(d, `more than ${n(MAX_DEVICES)} devices (${at} would be device ${n(this.devices)})`);
    if (d.name.length > NAME_MAX) this.fail(d, `device name of ${at} is ${n(d.name.length)} bytes, longer than NAME_MAX (${NAME_MAX}): no sysfs entry can have it`);
    const dir = `${d.parentDir}/${d.name}`;
    if (dir.length > PATH_MAX) this.fail(d, `sysfs path of ${at} is ${n(dir.length)} bytes, longer than PATH_MAX (${n(PATH_MAX)})`);
    if (at.length > PATH_MAX) this.fail(d, `node path of ${at.slice(0, 64)}… is ${n(at.length)} bytes, longer than PATH_MAX (${n(PATH_MAX)})`);
    if (d.regions.length > MAX_DEVICE_REGIONS) this.fail(d, `${at} has ${n(d.regions.length)} MEM regions ("reg" entries); a device has at most ${n(MAX_DEVICE_REGIONS)}`);
    if (d.irqs.length > MAX_DEVICE_IRQS) this.fail(d, `${at} has ${n(d.irqs.length)} interrupts; a device has at most ${n(MAX_DEVICE_IRQS)}`);
    let compat = 0;
    for (const c of d.compatible) compat += c.length + 1;
    if (compat > MAX_DEVICE_COMPATIBLE) this.fail(d, `"compatible" of ${at} is ${n(compat)} bytes; a device's is at most ${n(MAX_DEVICE_COMPATIBLE)}`);
    this.resources += d.regions.length + d.irqs.length + d.iommus.length + d.resets.length;
    if (this.resources > MAX_RESOURCES) {
      this.fail(d, `the devices' MEM regions, interrupts, IOMMU and reset references pass ${n(MAX_RESOURCES)} at ${at}`);
    }
    this.strings += d.name.length + at.length + dir.length + compat + (d.deviceType?.length ?? 0);
    if (this.strings > MAX_STRING_BYTES) {
      this.fail(d, `the devices' names, paths and compatible strings pass ${MAX_STRING_BYTES / 1048576} MiB at ${at}`);
    }
  }

  /** A device that failed to register (a name clash) does not count. */
  remove(): void {
    this.devices--;
  }
}
