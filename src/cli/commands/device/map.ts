/** `map OWNER IOVA SIZE`: VFIO_IOMMU_MAP_DMA on the owner's container (cf. vfio_iommu_type1.c vfio_dma_do_map). */
import { defineCommand } from '../../command.js';
import { runMap, ownerRange, asData, renderText, type MapOpts, type OwnerRange } from './shared.js';

interface MapOptions extends OwnerRange {
  flags: MapOpts;
}

export default defineCommand({
  name: 'map',
  group: 'device',
  summary: "VFIO_IOMMU_MAP_DMA on the owner's container (type1's checks: page alignment, overlap, reserved ranges)",
  example: 'vfioctl map qemu 0x200000 0x10000 --read --write',
  args: [
    { name: 'owner', complete: 'owner' },
    { name: 'iova', complete: 'none' },
    { name: 'size', complete: 'none' },
  ],
  flags: [
    { flags: '--read', description: 'VFIO_DMA_MAP_FLAG_READ: the device may read' },
    { flags: '--write', description: 'VFIO_DMA_MAP_FLAG_WRITE: the device may write' },
    { flags: '--exec', description: 'WHAT-IF, never merged (needs: vfioctl policy dma-exec on): VFIO_DMA_MAP_FLAG_EXEC' },
  ],
  machine: 'write',
  options: (p): MapOptions => ({ ...ownerRange(p), flags: p.flags as MapOpts }),
  run: (_rc, o: MapOptions, { m, sys }) => asData(runMap(m, sys, o.owner, o.iova, o.size, o.flags)),
  render: renderText,
});
