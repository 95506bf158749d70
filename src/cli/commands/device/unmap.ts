/** `unmap OWNER IOVA SIZE`: VFIO_IOMMU_UNMAP_DMA on the owner's container (cf. vfio_dma_do_unmap). */
import { defineCommand, word } from '../../command.js';
import { runUnmap, asData, renderText } from './shared.js';

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
  options: (p): { owner: string; iova: string; size: string } => ({ owner: word(p, 0), iova: word(p, 1), size: word(p, 2) }),
  run: (_rc, o: { owner: string; iova: string; size: string }, { m, sys }) => asData(runUnmap(m, sys, o.owner, o.iova, o.size)),
  render: renderText,
});
