/**
 * Advice for a refusal, worded by the CLI from the facts the kernel model returns
 * (KernelError.reason). The domain never names a vfioctl command; this is the one place
 * that turns a situation into "run: vfioctl …".
 */
import type { KernelError, Reason } from '../base/errors.js';

type Words = (r: Reason) => string | undefined;

/** One entry per Reason.kind. */
const HINTS: Record<string, Words> = {
  'group-held': (r) => `group ${r['group']} is held by owner '${r['owner']}' (pid ${r['pid']}); it must close it first: vfioctl close ${r['device']} --owner ${r['owner']} (or vfioctl kill ${r['owner']})`,
  'group-not-viable': (r) => `${r['why']}; unbind it or bind it to vfio-platform too (vfioctl passthrough DEVICE), then check with vfioctl groups`,
  'no-device-fd': (r) => `open it first: vfioctl open ${r['device']}${r['owner'] ? ` --owner ${r['owner']}` : ''}`,
  'not-vfio-bound': (r) => `bind it first: vfioctl passthrough ${r['device']}`,
  'vfio-not-loaded': () => 'the vfio module is not loaded; run: vfioctl modprobe vfio-platform',
};

/** The hint line for a refusal: worded from its reason, else the domain's command-free hint. */
export function hintFor(e: KernelError): string | undefined {
  const words = e.reason ? HINTS[e.reason.kind] : undefined;
  return (words && words(e.reason!)) ?? e.hint;
}
