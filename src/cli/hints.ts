/**
 * Advice for a refusal, worded by the CLI from the facts the kernel model returns
 * (KernelError.reason). The domain never names a vfioctl command; this is the one place
 * that turns a situation into "run: vfioctl …".
 */
import type { KernelError, Reason } from '../base/errors.js';

type Words = (r: Reason) => string | undefined;

/** an injected fault behind a failing reset, and the way to take it away */
const faultNote = (r: Reason): string => {
  const f = r['faults'];
  return Array.isArray(f) && f.length ? ` (injected fault: ${f.join(', ')}; clear it with: vfioctl fault ${r['device']} none)` : '';
};

/** One entry per Reason.kind. */
const HINTS: Record<string, Words> = {
  'group-held': (r) => `group ${r['group']} is held by owner '${r['owner']}' (pid ${r['pid']}); it must close it first: vfioctl close ${r['device']} --owner ${r['owner']} (or vfioctl kill ${r['owner']})`,
  'group-not-viable': (r) => `${r['why']}; unbind it or bind it to vfio-platform too (vfioctl passthrough DEVICE), then check with vfioctl groups`,
  'no-device-fd': (r) => `open it first: vfioctl open ${r['device']}${r['owner'] ? ` --owner ${r['owner']}` : ''}`,
  'no-eventfd': (r) => `owner '${r['owner']}' has no eventfd "${r['eventfd']}"; set one with: vfioctl irq DEVICE INDEX trigger --eventfd ${r['eventfd']}`,
  'no-trigger': (r) => `set one first: vfioctl irq ${r['device']} ${r['index']} trigger --eventfd NAME`,
  'not-mapped': (r) => `map it first: vfioctl map ${r['owner']} ${r['iova']} 0x1000 --read --write`,
  'not-vfio-bound': (r) => `bind it first: vfioctl passthrough ${r['device']}`,
  'query-held': (r) => `${r['device']} is open by '${r['owner']}' (pid ${r['pid']}), whose group file is exclusive; ask through its fd: vfioctl info ${r['device']} --owner ${r['owner']}`,
  'reset-failed': (r) => `the reset function failed${faultNote(r)}`,
  'reset-failed-open': (r) => `the device is not handed out while its reset fails and vfio-platform has reset_required=1${faultNote(r)}`,
  'vfio-not-loaded': () => 'the vfio module is not loaded; run: vfioctl modprobe vfio-platform',
};

/** The hint line for a refusal: worded from its reason, else the domain's command-free hint. */
export function hintFor(e: KernelError): string | undefined {
  const words = e.reason ? HINTS[e.reason.kind] : undefined;
  return (words && words(e.reason!)) ?? e.hint;
}
