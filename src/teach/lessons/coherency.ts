/**
 * Lesson f, coherency (tree: default): fff90000.video has a reset module but sits behind
 * an SMMU that cannot enforce cache-coherent DMA, so VFIO refuses it with -22 (EINVAL);
 * fff51000.ethernet, behind the coherent SMMU, passes. Cf. drivers/vfio/vfio_main.c
 * __vfio_register_dev (IOMMU_CAP_CACHE_COHERENCY) and arm-smmu's capable().
 */
import type { Scenario } from '../scenario.js';
import { dev, driverOf, logged } from '../checks.js';
import { modprobeStep, overrideStep, unbindStep, OVERRIDE_FIRST, MISSING_MODULE } from '../steps.js';

const VIDEO = 'fff90000.video';

export const coherencyLesson: Scenario = {
  name: 'coherency',
  letter: 'f',
  title: 'An IOMMU that cannot enforce cache coherency: EINVAL although a reset exists',
  tree: 'default',
  intro:
    `${VIDEO} (acme,sim-vpu) has a vfio-platform reset module, so the reset check passes. But VFIO gives a device to user space only if its ` +
    'IOMMU can keep the device\'s DMA cache-coherent (IOMMU_CAP_CACHE_COHERENCY), and the video block sits behind a second SMMU, fff01000.iommu, ' +
    'whose device-tree node is not "dma-coherent". You will watch the probe fail with -22, compare with fff51000.ethernet behind the coherent ' +
    'SMMU, and give the video block back to its host driver.',
  steps: [
    { ...modprobeStep(), keep: 3 },
    { ...overrideStep(VIDEO), keep: 2, aside: OVERRIDE_FIRST('acme-vpu') },
    { ...unbindStep(VIDEO, 'acme-vpu'), keep: 1, aside: OVERRIDE_FIRST('acme-vpu') },
    {
      goal: `Probe ${VIDEO} and watch VFIO refuse it with -22`,
      why:
        'vfio-platform finds the reset module, then registers the device with VFIO, which asks the IOMMU driver whether it can enforce cache-coherent DMA. ' +
        'An arm-smmu can when its node is "dma-coherent" (coherent table walk) or the device is; fff01000.iommu is neither, so the probe fails with -EINVAL',
      hint: 'probe it as you would any device, then read the kernel lines it printed (vfioctl dmesg --level 3)',
      commands: [`probe ${VIDEO}`],
      after: [`bind ${VIDEO}`, 'dmesg --level 3'],
      done: (m, since) => logged(m, since, `${VIDEO}: probe with driver vfio-platform failed with error -22`),
      refusal: (r, m) =>
        r.code === 'EINVAL' && (r.path?.endsWith('/drivers/vfio-platform/bind') ?? false)
          ? 'that is the refusal this step is about: bind returns the probe\'s error, EINVAL, because the IOMMU cannot enforce cache coherency (the hint above says which node); the -22 line stays in the kernel log (vfioctl dmesg --level 3), as it does after drivers_probe (vfioctl probe), which reports success instead'
          : MISSING_MODULE(r, m),
    },
    {
      goal: 'Compare: pass fff51000.ethernet through',
      why: 'the ethernet sits behind fff00000.iommu, whose node is "dma-coherent": the same check passes, and the device binds',
      hint: 'vfioctl has a command that runs override, unbind and probe and checks the result',
      commands: ['passthrough fff51000.ethernet'],
      after: ['groups'],
      done: (m) => driverOf(m, 'fff51000.ethernet') === 'vfio-platform',
    },
    {
      goal: `Give ${VIDEO} back to acme-vpu`,
      why: 'the refused probe left the video block unbound with its override set: clear the override and probe, and the host driver takes it back',
      hint: 'clear the override, then the same drivers_probe',
      commands: [`override ${VIDEO} --clear`, `probe ${VIDEO}`],
      done: (m) => driverOf(m, VIDEO) === 'acme-vpu',
      notYet: (m) => (dev(m, VIDEO)?.driverOverride ? `driver_override of ${VIDEO} still names vfio-platform, so acme-vpu cannot match: clear it` : null),
    },
  ],
  outro:
    'A reset function is not enough: VFIO also refuses a device whose IOMMU cannot keep its DMA cache-coherent: its DMA could bypass the CPU caches, and user space would read stale data. ' +
    'On a real board the fix is in the device tree ("dma-coherent" on the SMMU node, when the hardware really is coherent), never in vfio.',
};
