/**
 * Lesson b, no-reset (tree: default): fff52000.dma has no reset function; the ENOENT
 * refusal, reset_required=0, and the device left running after the last close.
 */
import type { Scenario } from '../scenario.js';
import { driverOf, vfioLoaded, openCount, running, logged, resetRequiredOff } from '../checks.js';
import { modprobeStep, overrideStep, unbindStep, openAndStartStep, unboundWithoutOverride, MISSING_MODULE, OVERRIDE_FIRST } from '../steps.js';

export const noResetLesson: Scenario = {
  name: 'no-reset',
  letter: 'b',
  title: 'A device with no reset module: ENOENT, reset_required=0, and what it costs',
  tree: 'default',
  intro:
    'fff52000.dma (acme,sim-dma) has no vfio-platform reset module and no ACPI _RST. Mainline vfio-platform refuses such a device, ' +
    'because nothing could quiesce it between owners. You will see the refusal, override it with reset_required=0, and see the price.',
  steps: [
    { ...modprobeStep(), keep: 3 },
    { ...overrideStep('fff52000.dma'), keep: 3, aside: OVERRIDE_FIRST('acme-dma') },
    { ...unbindStep('fff52000.dma', 'acme-dma'), keep: 2, aside: OVERRIDE_FIRST('acme-dma') },
    {
      goal: 'Probe fff52000.dma and watch vfio-platform refuse it',
      why: 'vfio-platform looks up a reset function by the first compatible string; without one the probe fails with ENOENT',
      hint: 'probe it as you would any device, then read the kernel log lines it printed (vfioctl dmesg)',
      commands: ['probe fff52000.dma'],
      after: ['bind fff52000.dma'],
      done: (m, since) => logged(m, since, 'No reset function found for device fff52000.dma') || driverOf(m, 'fff52000.dma') === 'vfio-platform',
      refusal: (r, m) =>
        r.code === 'ENOENT' && vfioLoaded(m) && (r.path?.endsWith('/drivers/vfio-platform/bind') ?? false)
          ? 'that is the refusal this step is about: bind returns the probe error, ENOENT ("No reset function found"), and its lines stay in the kernel log (vfioctl dmesg); drivers_probe (vfioctl probe) leaves the same lines but reports success'
          : MISSING_MODULE(r, m),
    },
    {
      goal: 'Reload vfio-platform with reset_required=0',
      why: 'module parameters are read at load time: rmmod, then modprobe with the parameter. Registering the driver autoprobes the overridden device',
      hint: 'rmmod, then modprobe with a name=value parameter',
      commands: ['rmmod vfio-platform', 'modprobe vfio-platform reset_required=0'],
      after: ['lsmod', 'info fff52000.dma'],
      done: (m) => resetRequiredOff(m) && driverOf(m, 'fff52000.dma') === 'vfio-platform',
      keep: 1,
      notYet: (m) => {
        if (!vfioLoaded(m)) return 'vfio-platform is unloaded; now load it with reset_required=0';
        if (!resetRequiredOff(m)) return 'vfio-platform is loaded with reset_required=Y still: a loaded module keeps its parameters; rmmod it and load it again with reset_required=0';
        return driverOf(m, 'fff52000.dma') === null ? 'reset_required is N now; probe fff52000.dma again' : null;
      },
      refusal: (r) => (r.code === 'EBUSY' && (r.command === 'rmmod' || r.message?.startsWith('rmmod:')) ? 'rmmod is refused while a device of vfio-platform is open' : null),
    },
    openAndStartStep('fff52000.dma', 'app', 'open gives no reset this time (the kernel warns "no reset function found!"); start programs DMA and IRQs'),
    {
      goal: 'Close it while it runs, and see what is left',
      why: 'this is the cost: the last close would normally reset the device; without a reset function it keeps running',
      hint: 'close the device without stopping it first',
      commands: ['close fff52000.dma'],
      after: ['show fff52000.dma'],
      done: (m) => openCount(m, 'fff52000.dma') === 0 && running(m, 'fff52000.dma'),
      notYet: (m) => (!running(m, 'fff52000.dma') ? 'the device was stopped: start it again (vfioctl start fff52000.dma) and close it while it runs' : null),
    },
  ],
  watch: (m, step) => (step <= 2 ? unboundWithoutOverride(m, 'fff52000.dma', 'acme-dma') : null),
  outro: 'With reset_required=0 vfio-platform takes the device, but nothing quiesces it between owners: it is still doing DMA and raising IRQs after the close. Lesson termination shows where that goes.',
};
