/** `policy generic-reset|dma-exec on|off`: opt into a what-if that is NOT in mainline Linux (the generic reset-controller reset, the RFC's DMA EXEC flag). */
import { defineCommand, word } from '../../command.js';
import { UsageError } from '../../../base/errors.js';

export interface PolicyData {
  policy: string;
  enabled: boolean;
  inMainline: false;
}

export default defineCommand({
  name: 'policy',
  group: 'vfio',
  summary: 'opt into a what-if that is NOT in mainline Linux (generic reset-controller reset, DMA EXEC mapping flag)',
  example: 'vfioctl policy generic-reset on',
  args: [
    { name: 'name', description: 'generic-reset | dma-exec', complete: { words: ['generic-reset', 'dma-exec'] } },
    { name: 'on|off', complete: { words: ['on', 'off'] } },
  ],
  machine: 'write',
  kernelLines: false,
  options(p) {
    const name = word(p, 0);
    const onoff = word(p, 1);
    if (name !== 'generic-reset' && name !== 'dma-exec') throw new UsageError(`unknown policy "${name}"`, 'known: generic-reset, dma-exec');
    if (onoff !== 'on' && onoff !== 'off') throw new UsageError('say on or off');
    return { name, on: onoff === 'on' };
  },
  run(_rc, o: { name: string; on: boolean }, { m, sys }): PolicyData {
    if (o.name === 'dma-exec') {
      sys.record('# (none on mainline Linux)', 'VFIO_DMA_MAP_FLAG_EXEC / VFIO_IOMMU_PROT_EXEC were in the 2014 ARM RFC only: mainline gave bit 2 of the map flags to VFIO_DMA_MAP_FLAG_VADDR');
      m.options.dmaExecWhatIf = o.on;
      return { policy: o.name, enabled: o.on, inMainline: false };
    }
    sys.record('# (none on mainline Linux)', 'the generic reset-controller path was never merged: only a kernel carrying that series could reset through "resets"');
    m.options.genericResetWhatIf = o.on;
    return { policy: o.name, enabled: m.options.genericResetWhatIf, inMainline: false };
  },
  render: (d: PolicyData) =>
    d.policy === 'dma-exec'
      ? d.enabled
        ? 'WHAT-IF (never merged): vfioctl map --exec now sets VFIO_DMA_MAP_FLAG_EXEC (1 << 2), mapped to IOMMU_EXEC, after checking the VFIO_IOMMU_PROT_EXEC extension, as the 2014 vfio-platform RFC proposed.\n' +
          'A later iteration inverted it to VFIO_DMA_MAP_FLAG_NOEXEC; neither was merged, and mainline uses bit 2 for VFIO_DMA_MAP_FLAG_VADDR.\n'
        : 'dma-exec what-if is off (mainline behaviour)\n'
      : d.enabled
      ? 'WHAT-IF (not in mainline Linux): vfio-platform may now reset a device through its "resets" line when it has exactly one that no other device uses.\n' +
        'This is Geert Uytterhoeven\'s 2018 series, never merged: the reset maintainer pointed out that even an "exclusive" reset control does not prove the wire is dedicated, so asserting it could reset other blocks. Shared lines are refused.\n'
      : 'generic reset-controller what-if is off (mainline behaviour)\n',
});
