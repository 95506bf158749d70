/**
 * A refused command explained in lesson terms, for the command that was refused: an
 * `open` refused with ENODEV is about the device fd, a `bind` refused with ENODEV about
 * matching. The current step's own reading comes first; then the readings below, chosen by
 * what the refused call was (the verb typed, or for `sysfs write` and the sequences, the
 * file written).
 */
import type { Machine } from '../base/machine.js';
import type { Refused, Step } from './scenario.js';
import { vfioLoaded } from './checks.js';

/** What the refused call was: a sysfs store, a device-fd call, a module command. */
type Call = 'bind' | 'unbind' | 'probe' | 'override' | 'fd' | 'modprobe' | 'rmmod' | 'kill' | 'other';

const FD_VERBS = new Set(['open', 'close', 'start', 'stop', 'reset', 'unmask', 'info', 'regions', 'irqs']);

function callOf(r: Refused): Call {
  const p = r.path ?? '';
  // the sysfs file says what was written, whichever command wrote it (sysfs write, passthrough, restore)
  if (p.startsWith('/sys/')) {
    if (p.endsWith('/driver_override')) return 'override';
    if (p.endsWith('/drivers_probe')) return 'probe';
    if (p.endsWith('/unbind')) return 'unbind';
    if (p.endsWith('/bind')) return 'bind';
  }
  const verb = r.command ?? '';
  if (FD_VERBS.has(verb) || p.startsWith('/dev/vfio') || r.code === 'EBADF' || r.op === 'ioctl' || r.op === 'open') return 'fd';
  if (verb === 'bind' || verb === 'unbind' || verb === 'probe' || verb === 'override' || verb === 'modprobe' || verb === 'rmmod' || verb === 'kill') return verb;
  // no verb given: module tools and kill say who they are
  const tool = /^(modprobe|rmmod|kill):/.exec(r.message ?? '')?.[1];
  return tool === 'modprobe' || tool === 'rmmod' || tool === 'kill' ? tool : 'other';
}

const READINGS: Record<Call, (code: string, r: Refused, m: Machine) => string | null> = {
  bind: (code, r, m) => {
    if (code === 'ENOENT' && !vfioLoaded(m) && r.path?.includes('/drivers/vfio-platform/')) return 'there is no drivers/vfio-platform until the module is loaded: vfioctl modprobe vfio-platform';
    if (code === 'ENOENT') return 'the driver\'s probe failed with ENOENT (the kernel lines above say why), and bind returns the probe\'s error';
    if (code === 'EBUSY') return 'the device is already bound: bind never takes a device from another driver; unbind it first';
    if (code === 'ENODEV') return 'the driver does not match this device: with driver_override set, only the driver it names can bind (and vfio-platform matches nothing else)';
    return null;
  },
  unbind: (code) => {
    if (code === 'ENOENT') return 'the device is not bound to any driver, so there is nothing to unbind';
    if (code === 'EWOULDBLOCK') return 'the device is open: the kernel would block the unbind until its owner lets go; close it first';
    if (code === 'ENODEV') return 'that driver does not drive this device';
    return null;
  },
  probe: (code) => (code === 'ENODEV' ? 'drivers_probe knows no device of that name on this bus' : null),
  override: (code) => (code === 'EINVAL' ? 'driver_override takes at most 4094 bytes of driver name' : null),
  fd: (code, r) => {
    if (code === 'ENODEV') return 'only a device bound to a VFIO driver (vfio-platform) has a VFIO device fd, and only one in an IOMMU group: bind it first (override, unbind, probe)';
    if (code === 'EBUSY') return 'the IOMMU group is already held by another owner: a group file is opened by one process at a time; that owner must close or die first';
    if (code === 'EPERM') return 'the IOMMU group is not viable: every device in it must be unbound or bound to a VFIO driver (vfioctl groups shows who is in the way)';
    if (code === 'ENOENT' && r.path === '/dev/vfio/vfio') return 'there is no /dev/vfio/vfio until the vfio modules are loaded: vfioctl modprobe vfio-platform';
    if (code === 'ENOENT') return 'that /dev/vfio node does not exist: a group gets one only when a member is bound to a VFIO driver';
    if (code === 'EBADF') return 'that owner holds no device fd for this device: open it first (or name the owner that did)';
    if (code === 'EINVAL' && (r.command === 'reset' || r.message?.startsWith('VFIO_DEVICE_RESET'))) return 'the device has no reset function: VFIO_DEVICE_RESET needs one (a reset module, ACPI _RST)';
    return null;
  },
  modprobe: (code) => (code === 'ENOENT' ? 'no module of that name exists on this machine (vfioctl lsmod lists the loaded ones)' : null),
  rmmod: (code) => {
    if (code === 'EBUSY') return 'the module is in use: a device fd of its driver is open, or another module depends on it';
    if (code === 'ENOENT') return 'that module is not loaded';
    return null;
  },
  kill: (code) => (code === 'ENOENT' ? 'no live owner has that name' : null),
  other: () => null,
};

/** A refusal in lesson terms: the step's own reading first, then the common one for the refused call. */
export function explainRefusal(step: Step | undefined, r: Refused, m: Machine): string {
  return step?.refusal?.(r, m) ?? READINGS[callOf(r)](r.code, r, m) ?? 'the kernel refused; the hint above names the fix';
}
