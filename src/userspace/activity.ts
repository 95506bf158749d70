/**
 * The device activity model: what a programmed device does while time passes. A
 * running device does DMA and raises its IRQs; with a live owner the DMA lands in
 * that owner's mapped window, with none (its owner died and nothing reset it) every
 * DMA hits an unmapped IOVA and the IOMMU reports a fault.
 */
import type { Machine, Device } from '../base/machine.js';
import { findGroup } from '../base/machine.js';
import { printk } from '../klog/klog.js';
import { irqInfo } from '../vfio/info.js';
import { IOVA_WINDOW } from '../vfio/container.js';

/** Time passes (one command): every running device runs one step. */
export function advance(m: Machine): void {
  for (const dev of m.devices) if (dev.activity.running) runFor(m, dev, 1);
}

export function runFor(m: Machine, dev: Device, steps: number): void {
  const a = dev.activity;
  const info = irqInfo(dev);
  const owned = m.owners.some((o) => o.alive && o.devices.includes(dev.name));
  for (let s = 0; s < steps; s++) {
    if (owned && a.iova) a.dmaWrites += 16;
    else {
      a.dmaFaults += 1;
      iommuFault(m, dev, a.iova?.start ?? IOVA_WINDOW.start);
    }
    info.forEach((q, i) => {
      if (q.level) {
        if (!a.masked[i]) {
          a.irqsRaised[i] = (a.irqsRaised[i] ?? 0) + 1;
          a.masked[i] = true; // automasked until UNMASK
        }
      } else a.irqsRaised[i] = (a.irqsRaised[i] ?? 0) + 4;
    });
  }
}

/** The IOMMU's report of a DMA to an address no mapping covers (arm_smmu_context_fault). */
export function iommuFault(m: Machine, dev: Device, iova: string): void {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  const iommu = g?.iommu ? m.devices.find((d) => d.of.fullName === g.iommu) : undefined;
  const who = iommu ? `${iommu.driver ?? iommu.bus} ${iommu.name}` : 'iommu';
  const addr = `0x${BigInt(iova).toString(16).padStart(8, '0')}`;
  if (iommu?.driver === 'arm-smmu') printk(m, 3, `${who}: Unhandled context fault: fsr=0x402, iova=${addr}, fsynr=0x1, cbfrsynra=0x${(g?.id ?? 0).toString(16)}, cb=${g?.id ?? 0}`);
  else printk(m, 3, `${who}: Unhandled fault: iova ${addr} from ${dev.name} (DMA write to an unmapped address)`);
}
