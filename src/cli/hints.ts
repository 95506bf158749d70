/**
 * Advice for a refusal, worded by the CLI from the facts the kernel model returns
 * (KernelError.reason). The domain never names a vfioctl command; this is the one place
 * that turns a situation into "run: vfioctl …".
 */
import type { KernelError, Reason } from '../base/errors.js';

type Words = (r: Reason) => string | undefined;

const str = (v: Reason[string]): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const list = (v: Reason[string]): readonly string[] => (Array.isArray(v) ? (v as readonly string[]) : []);

/** One entry per Reason.kind, in alphabetical order of kind (keeps merges easy). */
const HINTS: Record<string, Words> = {
  'driver-not-registered': (r) => `the ${str(r['driver'])} driver is not registered: its module is not loaded; run: vfioctl modprobe ${str(r['driver'])}`,
  'group-held': (r) => `group ${r['group']} is held by owner '${r['owner']}' (pid ${r['pid']}); it must close it first: vfioctl close ${r['device']} --owner ${r['owner']} (or vfioctl kill ${r['owner']})`,
  'group-not-viable': (r) => `${r['why']}; unbind it or bind it to vfio-platform too (vfioctl passthrough DEVICE), then check with vfioctl groups`,
  'no-device-fd': (r) => `open it first: vfioctl open ${r['device']}${r['owner'] ? ` --owner ${r['owner']}` : ''}`,
  'no-new-id': () => 'the platform bus has no new_id/remove_id (that is PCI and USB): use driver_override instead',
  'no-such-driver': (r) => `no ${str(r['bus'])} driver is named ${str(r['driver'])}; drivers: ${list(r['drivers']).join(', ') || 'none'}`,
  'not-vfio-bound': (r) => `bind it first: vfioctl passthrough ${r['device']}`,
  'sysfs-create': (r) => `sysfs files cannot be created: only the kernel adds them; check the path with: vfioctl sysfs ls ${str(r['parent'])}`,
  'sysfs-no-such-file': (r) => `sysfs files cannot be created; check the path with: vfioctl sysfs ls ${str(r['parent'])}`,
  'vfio-chr-io': (r) => `a VFIO group is used through ioctl(2)${r['op'] === 'read' ? ', not read(2)' : ''}: see vfioctl open`,
  'vfio-not-loaded': () => 'the vfio module is not loaded; run: vfioctl modprobe vfio-platform',
};

/** The hint line for a refusal: worded from its reason, else the domain's command-free hint. */
export function hintFor(e: KernelError): string | undefined {
  return (e.reason && wordReason(e.reason)) ?? e.hint;
}

/** The words for one reason, or undefined for a kind with no entry. */
export function wordReason(r: Reason): string | undefined {
  const words = Object.hasOwn(HINTS, r.kind) ? HINTS[r.kind] : undefined;
  return words ? words(r) : undefined;
}
