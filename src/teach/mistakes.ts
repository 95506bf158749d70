/**
 * A mistake the kernel accepts, worth pointing out in any lesson: a device given to
 * vfio-platform whose IOMMU group user space still cannot use.
 */
import type { Machine } from '../base/machine.js';
import { viabilityReason } from '../iommu/group.js';
import { dev } from './checks.js';

export function commonMistakes(m: Machine): string[] {
  const out: string[] = [];
  for (const g of m.groups) {
    const why = viabilityReason(m, g);
    if (!why) continue;
    const vfio = g.devices.filter((n) => dev(m, n)?.vfio);
    if (vfio.length) out.push(`${vfio.join(', ')} ${vfio.length > 1 ? 'are' : 'is'} bound to vfio-platform, but IOMMU group ${g.id} is not viable (${why}): opening /dev/vfio/${g.id} fails with EPERM until every member is unbound or on a VFIO driver`);
  }
  return out;
}
