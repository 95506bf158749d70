/**
 * Advice for a refusal, worded by the CLI from the facts the kernel model returns
 * (KernelError.reason). The domain never names a vfioctl command; this is the one place
 * that turns a situation into "run: vfioctl …".
 */
import type { KernelError, Reason } from '../base/errors.js';
import type { Machine, Device, Driver } from '../base/machine.js';
import { probeFailureReason } from '../base/bus.js';

type Words = (r: Reason) => string | undefined;

const str = (v: Reason[string]): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const list = (v: Reason[string]): readonly string[] => (Array.isArray(v) ? (v as readonly string[]) : []);

/** One entry per Reason.kind, in alphabetical order of kind (keeps merges easy). */
const HINTS: Record<string, Words> = {
  'already-bound': (r) => `${str(r['device'])} is already bound to ${str(r['driver'])}; unbind it first: vfioctl unbind ${str(r['device'])}`,
  'device-open': (r) => `nothing was changed; release it first: vfioctl close ${str(r['device'])} --owner ${str(r['owner'])}   (or end the owner: vfioctl kill ${str(r['owner'])})`,
  'driver-not-registered': (r) => `the ${str(r['driver'])} driver is not registered: its module is not loaded; run: vfioctl modprobe ${str(r['driver'])}`,
  'group-held': (r) => `group ${r['group']} is held by owner '${r['owner']}' (pid ${r['pid']}); it must close it first: vfioctl close ${r['device']} --owner ${r['owner']} (or vfioctl kill ${r['owner']})`,
  'group-not-viable': (r) => `${r['why']}; unbind it or bind it to vfio-platform too (vfioctl passthrough DEVICE), then check with vfioctl groups`,
  'group-owned': (r) => {
    const held = list(r['held']);
    const way = held.length ? `: vfioctl close ${held[0]} --owner ${str(r['owner'])}${held.length > 1 ? ` (and ${held.slice(1).join(', ')})` : ''}, or vfioctl kill ${str(r['owner'])}` : '';
    return `IOMMU group ${str(r['group'])} is owned by user space (${str(r['owner'])}); a kernel DMA driver cannot probe until it is released${way}`;
  },
  'no-cache-coherency': (r) => {
    const drv = str(r['iommuDriver']);
    const why = drv === 'ipmmu-vmsa'
      ? 'the ipmmu-vmsa driver never reports IOMMU_CAP_CACHE_COHERENCY'
      : drv === 'arm-smmu-v3'
        ? 'the SMMUv3 node is not "dma-coherent"'
        : 'neither the SMMU node (coherent table walk) nor the device is "dma-coherent"';
    return `${str(r['device'])}: its IOMMU ${str(r['iommu'])} (${drv}) cannot enforce cache-coherent DMA (IOMMU_CACHE), so VFIO refuses the device (${why}); mark the coherent node "dma-coherent" in the device tree if the hardware really is coherent`;
  },
  'no-device': (r) => `no ${str(r['bus'])} device is named ${JSON.stringify(str(r['name']))}; list them with: vfioctl status`,
  'no-device-fd': (r) => `open it first: vfioctl open ${r['device']}${r['owner'] ? ` --owner ${r['owner']}` : ''}`,
  'no-iommu-group': (r) => `${str(r['device'])} is in no IOMMU group (its node has no "iommus"); VFIO can only give user space a device an IOMMU isolates`,
  'no-match': (r) => `${str(r['driver'])} does not match ${str(r['device'])} (compatible ${list(r['compatible']).join(', ') || 'none'}); set driver_override first: vfioctl override ${str(r['device'])} ${str(r['driver'])}`,
  'no-match-table': (r) => `${str(r['driver'])} has no match table: it binds only devices whose driver_override names it; run: vfioctl override ${str(r['device'])} ${str(r['driver'])}`,
  'no-new-id': () => 'the platform bus has no new_id/remove_id (that is PCI and USB): use driver_override instead',
  'no-reset': (r) => `no reset handler for "${str(r['compatible'])}"; vfio-platform requires one unless loaded with reset_required=0: ${r['moduleLoaded'] ? 'vfioctl rmmod vfio-platform && ' : ''}vfioctl modprobe vfio-platform reset_required=0`,
  'no-such-driver': (r) => `no ${str(r['bus'])} driver is named ${str(r['driver'])}; drivers: ${list(r['drivers']).join(', ') || 'none'}`,
  'not-vfio-bound': (r) => `bind it first: vfioctl passthrough ${r['device']}`,
  'override-mismatch': (r) => `driver_override of ${str(r['device'])} is "${str(r['override'])}", so only that driver matches; run: vfioctl override ${str(r['device'])} ${str(r['driver'])}`,
  'shared-reset-line': (r) => `the generic reset-controller what-if refuses ${str(r['device'])}: its reset line is shared with ${list(r['sharedWith']).join(', ')}, so asserting it would reset those blocks too`,
  'sysfs-create': (r) => `sysfs files cannot be created: only the kernel adds them; check the path with: vfioctl sysfs ls ${str(r['parent'])}`,
  'sysfs-no-such-file': (r) => `sysfs files cannot be created; check the path with: vfioctl sysfs ls ${str(r['parent'])}`,
  'vfio-chr-io': (r) => `a VFIO group is used through ioctl(2)${r['op'] === 'read' ? ', not read(2)' : ''}: see vfioctl open`,
  'vfio-not-loaded': () => 'the vfio module is not loaded; run: vfioctl modprobe vfio-platform',
};

/**
 * Advice for a probe of `dev` by `drv` that failed with `err`. `vfioPlatformLoaded` says
 * whether the user's machine has the module loaded (a sequence may have loaded it only in passing).
 */
export function probeHint(m: Machine, dev: Device, drv: Driver, err: string, vfioPlatformLoaded?: boolean): string | undefined {
  const r = probeFailureReason(m, dev, drv, err);
  if (!r) return undefined;
  return wordReason(vfioPlatformLoaded === undefined || r.kind !== 'no-reset' ? r : { ...r, moduleLoaded: vfioPlatformLoaded });
}

/** The hint line for a refusal: worded from its reason, else the domain's command-free hint. */
export function hintFor(e: KernelError): string | undefined {
  return (e.reason && wordReason(e.reason)) ?? e.hint;
}

/** The words for one reason, or undefined for a kind with no entry. */
export function wordReason(r: Reason): string | undefined {
  const words = Object.hasOwn(HINTS, r.kind) ? HINTS[r.kind] : undefined;
  return words ? words(r) : undefined;
}
