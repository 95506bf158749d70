/** `unmap OWNER IOVA SIZE`: VFIO_IOMMU_UNMAP_DMA on the owner's container (cf. vfio_dma_do_unmap). */
import { defineCommand } from '../../command.js';
import { runUnmap, ownerRange, asData, renderText, type OwnerRange } from './shared.js';

export default defineCommand({
  name: 'unmap',
  group: 'device',
  summary: "VFIO_IOMMU_UNMAP_DMA on the owner's container: DMA there faults from now on",
  example: 'vfioctl unmap qemu 0x100000 0x100000',
  args: [
    { name: 'owner', complete: 'owner' },
    { name: 'iova', complete: 'none' },
    { name: 'size', complete: 'none' },
  ],
  machine: 'write',
  options: ownerRange,
  run: (_rc, o: OwnerRange, { m, sys }) => asData(runUnmap(m, sys, o.owner, o.iova, o.size)),
  render: renderText,
});
