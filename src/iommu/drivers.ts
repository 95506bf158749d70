/**
 * What each IOMMU driver answers for the questions VFIO and the group code ask
 * (struct iommu_ops .capable, .def_domain_type, .get_resv_regions), chosen by the
 * IOMMU node's compatible:
 * - arm-smmu (drivers/iommu/arm/arm-smmu/arm-smmu.c, arm,smmu-v1/v2, arm,mmu-4xx/500 …):
 *   IOMMU_CAP_CACHE_COHERENCY when the SMMU walks its tables coherently (ARM_SMMU_FEAT_COHERENT_WALK,
 *   set from `dma-coherent` on the SMMU node) or the device itself is DMA-coherent; a
 *   software MSI window at 0x8000000 (1 MiB) in every group.
 * - arm-smmu-v3 (arm-smmu-v3.c, arm,smmu-v3): coherency only from ARM_SMMU_FEAT_COHERENCY,
 *   i.e. `dma-coherent` on the SMMU node (a coherent TCU is taken to mean coherent TBUs).
 * - ipmmu-vmsa (drivers/iommu/ipmmu-vmsa.c): its iommu_ops have no .capable, so
 *   device_iommu_capable() is false for every device: VFIO refuses them all.
 * - fsl-pamu (drivers/iommu/fsl_pamu_domain.c): fsl_pamu_capable() answers yes for
 *   IOMMU_CAP_CACHE_COHERENCY; def_domain_type is IDENTITY; no get_resv_regions.
 * An IOMMU vfioctl does not know is treated like arm-smmu (coherent walk or coherent device).
 */
import type { Machine, Device } from '../base/machine.js';

export interface ResvRegion {
  start: bigint;
  /** inclusive */
  end: bigint;
  type: 'direct' | 'direct-relaxable' | 'reserved' | 'msi';
}

export interface IommuDriver {
  name: string;
  /** device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY) */
  cacheCoherency(dev: Device): boolean;
  /** a type every group of this IOMMU must have, or null (then DMA) */
  defDomainType: string | null;
  reservedRegions: ResvRegion[];
}

/** MSI_IOVA_BASE / MSI_IOVA_LENGTH of the arm SMMU drivers */
const SW_MSI: ResvRegion = { start: 0x8000000n, end: 0x80fffffn, type: 'msi' };

const ARM_SMMU = ['arm,smmu-v1', 'arm,smmu-v2', 'arm,mmu-400', 'arm,mmu-401', 'arm,mmu-500', 'cavium,smmu-v2', 'nvidia,smmu-500', 'qcom,smmu-v2', 'qcom,smmu-500', 'arm,cortex-a53-smmu'];

export function iommuDriverOf(m: Machine, iommuPath: string | null): IommuDriver {
  // a group no IOMMU made (vfio-noiommu): no domain, no reserved regions
  if (iommuPath === null) return { name: 'none', cacheCoherency: () => false, defDomainType: null, reservedRegions: [] };
  // the phandle may name a sub-node of the IOMMU device (fsl,iommu-parent → pamu@0): the device is the nearest populated ancestor
  let node: Device | undefined;
  for (let p = iommuPath; p && !node; p = p.slice(0, Math.max(0, p.lastIndexOf('/')))) node = m.devices.find((d) => d.of.fullName === p);
  const compat = node?.of.compatible ?? [];
  const walkCoherent = node?.dmaCoherent === true;
  if (compat.includes('arm,smmu-v3')) {
    return { name: 'arm-smmu-v3', cacheCoherency: () => walkCoherent, defDomainType: null, reservedRegions: [SW_MSI] };
  }
  if (compat.some((c) => c.startsWith('renesas,ipmmu'))) {
    return { name: 'ipmmu-vmsa', cacheCoherency: () => false, defDomainType: null, reservedRegions: [SW_MSI] };
  }
  if (compat.some((c) => c === 'fsl,pamu' || c.startsWith('fsl,pamu-'))) {
    return { name: 'fsl-pamu', cacheCoherency: () => true, defDomainType: 'identity', reservedRegions: [] };
  }
  const name = compat.some((c) => ARM_SMMU.includes(c)) ? 'arm-smmu' : (compat[0] ?? 'iommu');
  return { name, cacheCoherency: (dev) => walkCoherent || dev.dmaCoherent === true, defDomainType: null, reservedRegions: [SW_MSI] };
}
