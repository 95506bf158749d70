/**
 * The teaching scenarios. Each is a list of steps on the bundled default machine;
 * `lesson` asks the learner to type them and recognises each step from the machine's
 * state (never from the command line typed), `demo` and scripts/demo-*.sh run the
 * same steps' commands narrated.
 */
import type { Machine, Device } from '../base/machine.js';
import { findDevice, findGroup } from '../base/machine.js';
import { isLoaded, moduleParam } from '../base/module.js';
import { isViable, viabilityReason } from '../iommu/group.js';

export interface Step {
  /** what to achieve, in one line */
  goal: string;
  /** why the step exists: what a real system would do wrong without it */
  why: string;
  /** a nudge that does not give the command away */
  hint: string;
  /** the vfioctl commands that complete the step (the demo runs these) */
  commands: string[];
  /** commands the demo runs before `commands` to show the situation (read-only, or an expected refusal) */
  before?: string[];
  /** commands the demo runs after `commands` to show the effect */
  after?: string[];
  /** the machine shows the step done; `since` is the clock (µs) when the step began */
  done(m: Machine, since: number): boolean;
  /** after a command that changed the machine but did not complete the step: what the state shows, if worth saying */
  notYet?(m: Machine): string | null;
  /** a refused command explained in this step's terms */
  refusal?(code: string, m: Machine): string | null;
}

export interface Scenario {
  name: string;
  letter: string;
  title: string;
  intro: string;
  steps: Step[];
  outro: string;
  /** a mistake worth pointing out whatever step the learner is on (`step`: index of the current one) */
  watch?(m: Machine, step: number): string | null;
}

const dev = (m: Machine, name: string): Device | undefined => findDevice(m, name);
const driverOf = (m: Machine, name: string): string | null | undefined => dev(m, name)?.driver;
const vfioLoaded = (m: Machine): boolean => isLoaded(m, 'vfio_platform');
const openCount = (m: Machine, name: string): number => dev(m, name)?.vfio?.openCount ?? 0;
const running = (m: Machine, name: string): boolean => dev(m, name)?.activity.running ?? false;
/** a kernel line containing `text` logged after `since` */
const logged = (m: Machine, since: number, text: string): boolean => m.log.some((l) => l.t > since && l.text.includes(text));
/** vfio-platform loaded with reset_required=0 (kept as N) */
const resetRequiredOff = (m: Machine): boolean => moduleParam(m, 'vfio_platform', 'reset_required') === 'N';
const ownerAlive = (m: Machine, owner: string, device: string): boolean => m.owners.some((o) => o.name === owner && o.alive && o.devices.includes(device));
/** no live process of that name (the kernel forgets a killed owner) */
const ownerGone = (m: Machine, owner: string): boolean => !m.owners.some((o) => o.name === owner && o.alive);

function openAndStartStep(name: string, owner: string, why: string): Step {
  return {
    goal: `Open ${name} as "${owner}" and start it`,
    why,
    hint: `open with --owner ${owner}, then start`,
    commands: [`open ${name} --owner ${owner}`, `start ${name}`],
    done: (m) => ownerAlive(m, owner, name) && running(m, name),
  };
}

function modprobeStep(): Step {
  return {
    goal: 'Load the vfio-platform module',
    why: 'vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio',
    hint: 'modules are loaded with modprobe; vfioctl has a command of the same name',
    commands: ['modprobe vfio-platform'],
    done: vfioLoaded,
  };
}

const MISSING_MODULE = (code: string, m: Machine): string | null =>
  code === 'ENOENT' && !vfioLoaded(m) ? 'vfio-platform is not loaded, so /sys/bus/platform/drivers/vfio-platform does not exist yet: load it first (vfioctl modprobe vfio-platform)' : null;

/** unbinding before the override is set: it works, but a real machine could rebind the host driver at any moment */
function unboundWithoutOverride(m: Machine, name: string, host: string): string | null {
  const d = dev(m, name);
  return d && d.driver === null && d.driverOverride === null
    ? `${name} is unbound but driver_override is not set: on a real machine any probe now (a hotplug event, a module load, drivers_autoprobe) would give it straight back to ${host}. Set the override first, then probe`
    : null;
}

function overrideStep(name: string): Step {
  return {
    goal: `Set driver_override of ${name} to vfio-platform`,
    why: `override first: once it is set, only vfio-platform can match ${name}, so nothing can grab it between unbind and probe`,
    hint: `the attribute is /sys/bus/platform/devices/${name}/driver_override; vfioctl override writes it`,
    commands: [`override ${name} vfio-platform`],
    done: (m) => dev(m, name)?.driverOverride === 'vfio-platform',
    notYet: (m) => {
      const d = dev(m, name);
      if (!d) return null;
      if (d.driverOverride !== null && d.driverOverride !== 'vfio-platform')
        return `driver_override is "${d.driverOverride}", which is not the name of the VFIO driver: write vfio-platform exactly (no trailing space)`;
      return null;
    },
  };
}

function unbindStep(name: string, host: string): Step {
  return {
    goal: `Unbind ${name} from its host driver ${host}`,
    why: 'writing driver_override never unbinds: the host driver keeps the device until its unbind file is written',
    hint: `the device's driver has an unbind file: /sys/bus/platform/drivers/${host}/unbind`,
    commands: [`unbind ${name}`],
    done: (m) => driverOf(m, name) !== host,
  };
}

function probeStep(name: string): Step {
  return {
    goal: `Probe ${name} so that vfio-platform binds it`,
    why: 'drivers_probe asks the bus to find a driver; with the override set, vfio-platform is the only candidate',
    hint: 'the bus has a drivers_probe file; vfioctl probe writes the device name to it (bind --driver works too)',
    commands: [`probe ${name}`],
    done: (m) => driverOf(m, name) === 'vfio-platform',
    notYet: (m) =>
      dev(m, name)?.driverOverride !== 'vfio-platform' ? `driver_override of ${name} is no longer vfio-platform: set it again before probing` : null,
    refusal: MISSING_MODULE,
  };
}

const passthroughLesson: Scenario = {
  name: 'passthrough',
  letter: 'a',
  title: 'Classic passthrough of a device with a reset module, and the way back',
  intro:
    'fff51000.ethernet is a Calxeda xgmac, bound at boot to its host driver calxedaxgmac. vfio-platform has a reset module for it ' +
    '(vfio_platform_calxedaxgmac), so it can be handed to user space safely. You will do it step by step, open it as a user-space ' +
    'program would, and give it back to the host driver.',
  steps: [
    modprobeStep(),
    overrideStep('fff51000.ethernet'),
    unbindStep('fff51000.ethernet', 'calxedaxgmac'),
    { ...probeStep('fff51000.ethernet'), after: ['groups', 'info fff51000.ethernet'] },
    {
      goal: 'Open the device as the user-space program "qemu"',
      why: 'the kernel resets the device on first open (the reset module makes that possible), so the owner starts from a quiet device',
      hint: 'a simulated program opens container, group and device fd; the owner name is an option',
      commands: ['open fff51000.ethernet --owner qemu'],
      done: (m) => ownerAlive(m, 'qemu', 'fff51000.ethernet'),
      refusal: (code) => (code === 'ENODEV' ? 'only a device bound to vfio-platform has a VFIO device fd: finish the probe step first' : null),
    },
    {
      goal: 'Close it again',
      why: 'the last close resets the device too, so the next owner (or the host driver) gets it quiet',
      hint: 'the opposite of open',
      commands: ['close fff51000.ethernet'],
      done: (m) => openCount(m, 'fff51000.ethernet') === 0,
    },
    {
      goal: 'The way back, 1/3: clear driver_override',
      why: 'while the override names vfio-platform, the host driver can never match the device again',
      hint: 'a lone newline clears it; an empty write (echo -n "") changes nothing',
      commands: ['override fff51000.ethernet --clear'],
      done: (m) => dev(m, 'fff51000.ethernet')?.driverOverride === null,
      notYet: (m) => {
        const o = dev(m, 'fff51000.ethernet')?.driverOverride;
        return o ? `driver_override is still "${o}": a zero-length write (echo -n "" > driver_override) is ignored by the kernel; echo's newline is what clears it (vfioctl override fff51000.ethernet --clear)` : null;
      },
    },
    {
      goal: 'The way back, 2/3: unbind it from vfio-platform',
      why: 'clearing the override never unbinds either: vfio-platform keeps the device until you unbind it',
      hint: 'same unbind as before, now from the other driver',
      commands: ['unbind fff51000.ethernet'],
      done: (m) => driverOf(m, 'fff51000.ethernet') !== 'vfio-platform',
      refusal: (code) => (code === 'EWOULDBLOCK' ? 'the device is still open: unbinding an open device blocks until its owner lets go. Close it first' : null),
    },
    {
      goal: 'The way back, 3/3: probe it so that calxedaxgmac binds again',
      why: 'with no override, the bus matches by compatible string and the host driver takes the device back',
      hint: 'the same drivers_probe as before',
      commands: ['probe fff51000.ethernet'],
      after: ['status'],
      done: (m) => driverOf(m, 'fff51000.ethernet') === 'calxedaxgmac',
      notYet: (m) =>
        dev(m, 'fff51000.ethernet')?.driverOverride ? 'driver_override is set again: clear it, or the host driver cannot match' : null,
    },
  ],
  watch: (m, step) => (step <= 2 ? unboundWithoutOverride(m, 'fff51000.ethernet', 'calxedaxgmac') : null),
  outro: 'That is the whole sequence: modprobe, override, unbind, probe, and back with clear, unbind, probe. `vfioctl passthrough` and `vfioctl restore` do the same in one command each.',
};

const noResetLesson: Scenario = {
  name: 'no-reset',
  letter: 'b',
  title: 'A device with no reset module: ENOENT, reset_required=0, and what it costs',
  intro:
    'fff52000.dma (acme,sim-dma) has no vfio-platform reset module and no ACPI _RST. Mainline vfio-platform refuses such a device, ' +
    'because nothing could quiesce it between owners. You will see the refusal, override it with reset_required=0, and see the price.',
  steps: [
    modprobeStep(),
    overrideStep('fff52000.dma'),
    unbindStep('fff52000.dma', 'acme-dma'),
    {
      goal: 'Probe fff52000.dma and watch vfio-platform refuse it',
      why: 'vfio-platform looks up a reset function by the first compatible string; without one the probe fails with ENOENT',
      hint: 'probe it as you would any device, then read the kernel log lines it printed (vfioctl dmesg)',
      commands: ['probe fff52000.dma'],
      after: ['bind fff52000.dma'],
      done: (m, since) => logged(m, since, 'No reset function found for device fff52000.dma') || driverOf(m, 'fff52000.dma') === 'vfio-platform',
      refusal: (code, m) =>
        code === 'ENOENT' && vfioLoaded(m)
          ? 'that is the refusal this step is about: bind returns the probe error, ENOENT ("No reset function found"). bind refuses, so nothing was saved; drivers_probe (vfioctl probe) reports success and leaves the same lines in the log: run it to complete the step'
          : MISSING_MODULE(code, m),
    },
    {
      goal: 'Reload vfio-platform with reset_required=0',
      why: 'module parameters are read at load time: rmmod, then modprobe with the parameter. Registering the driver autoprobes the overridden device',
      hint: 'rmmod, then modprobe with a name=value parameter',
      commands: ['rmmod vfio-platform', 'modprobe vfio-platform reset_required=0'],
      after: ['lsmod', 'info fff52000.dma'],
      done: (m) => resetRequiredOff(m) && driverOf(m, 'fff52000.dma') === 'vfio-platform',
      notYet: (m) => {
        if (!vfioLoaded(m)) return 'vfio-platform is unloaded; now load it with reset_required=0';
        if (!resetRequiredOff(m)) return 'vfio-platform is loaded with reset_required=Y still: a loaded module keeps its parameters; rmmod it and load it again with reset_required=0';
        return driverOf(m, 'fff52000.dma') === null ? 'reset_required is N now; probe fff52000.dma again' : null;
      },
      refusal: (code) => (code === 'EBUSY' ? 'rmmod is refused while a device of vfio-platform is open' : null),
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

const GROUP2 = 2;
const groupsLesson: Scenario = {
  name: 'groups',
  letter: 'c',
  title: 'IOMMU groups and viability',
  intro:
    'fff60000.crypto and fff61000.rng sit behind the same IOMMU stream, so they share IOMMU group 2. The group, not the device, is what ' +
    'user space owns: it is usable only when every device in it is unbound or bound to a VFIO driver.',
  steps: [
    modprobeStep(),
    {
      goal: 'Give fff60000.crypto to vfio-platform',
      why: 'crypto has a reset module, so it binds; but binding one device of a group does not make the group usable',
      hint: 'override, unbind, probe, or the passthrough command that does all three',
      commands: ['passthrough fff60000.crypto'],
      after: ['groups'],
      done: (m) => driverOf(m, 'fff60000.crypto') === 'vfio-platform',
      refusal: MISSING_MODULE,
    },
    {
      goal: 'Make group 2 viable: take fff61000.rng away from its host driver',
      why: 'opening /dev/vfio/2 fails with EPERM while acme-rng drives the rng: user space would control DMA for a device a kernel driver uses',
      hint: 'the rng has no reset module, so it cannot go to vfio-platform: leaving it unbound is enough (override it first, so nothing rebinds it)',
      before: ['open fff60000.crypto --owner app'],
      commands: ['override fff61000.rng vfio-platform', 'unbind fff61000.rng'],
      after: ['groups'],
      done: (m) => {
        const g = findGroup(m, GROUP2);
        return !!g && isViable(m, g);
      },
      notYet: (m) => {
        const g = findGroup(m, GROUP2);
        const why = g && viabilityReason(m, g);
        return why ? `group 2 is not viable yet: ${why}` : null;
      },
      refusal: (code, m) => {
        if (code !== 'EPERM') return null;
        const g = findGroup(m, GROUP2);
        return `that is the point: group 2 is not viable (${(g && viabilityReason(m, g)) ?? 'a member has a host driver'}), so VFIO_GROUP_SET_CONTAINER refused. Deal with the rng first`;
      },
    },
    {
      goal: 'Open fff60000.crypto as "app"',
      why: 'now every member of group 2 is unbound or on vfio-platform, so the group can be attached to a container',
      hint: 'open with --owner app',
      commands: ['open fff60000.crypto --owner app'],
      done: (m) => ownerAlive(m, 'app', 'fff60000.crypto'),
    },
    {
      goal: 'Clear fff61000.rng\'s override while "app" owns the group',
      why: 'acme-rng could match the rng again, but a kernel DMA driver must use the group\'s default domain: while user space owns the group, dma_configure refuses it before acme-rng\'s probe runs (bind gets EBUSY, drivers_probe EINVAL, and nothing is logged)',
      hint: 'clear the rng\'s override (do not probe yet: the kernel would refuse)',
      commands: ['override fff61000.rng --clear'],
      done: (m) => dev(m, 'fff61000.rng')?.driverOverride === null && driverOf(m, 'fff61000.rng') === null,
    },
    {
      goal: 'Close fff60000.crypto',
      why: 'the last close releases the group: the kernel owns its DMA again',
      hint: 'the opposite of open',
      commands: ['close fff60000.crypto'],
      done: (m) => openCount(m, 'fff60000.crypto') === 0,
    },
    {
      goal: 'Now probe fff61000.rng again',
      why: 'with no user-space owner, acme-rng can claim the default domain, and group 2 is not viable any more',
      hint: 'the same probe as before',
      commands: ['probe fff61000.rng'],
      after: ['groups'],
      done: (m) => driverOf(m, 'fff61000.rng') === 'acme-rng',
    },
  ],
  outro: 'Viability is a property of the group: every device in it must be unbound or on a VFIO driver before user space may own it, and a host driver cannot come back while it does.',
};

const terminationLesson: Scenario = {
  name: 'termination',
  letter: 'd',
  title: 'Abnormal termination, with and without a reset',
  intro:
    'A user-space driver can die at any moment. The kernel then closes its fds, and the release path resets the device, if it can. ' +
    'First with fff51000.ethernet, which has a reset module; then with fff52000.dma, which has none.',
  steps: [
    modprobeStep(),
    {
      goal: 'Pass fff51000.ethernet through to vfio-platform',
      why: 'the whole sequence of lesson passthrough in one command',
      hint: 'vfioctl has a command that runs override, unbind and probe and checks the result',
      commands: ['passthrough fff51000.ethernet'],
      done: (m) => driverOf(m, 'fff51000.ethernet') === 'vfio-platform',
      refusal: MISSING_MODULE,
    },
    { ...openAndStartStep('fff51000.ethernet', 'vm1', 'a running device does DMA into the owner\'s IOVA window and raises interrupts'), goal: 'Open it as "vm1" and start it' },
    {
      goal: 'Kill "vm1"',
      why: 'the kernel releases every fd of the dead process; the last close resets the device, so it stops',
      hint: 'kill takes the owner name',
      commands: ['kill vm1'],
      after: ['show fff51000.ethernet'],
      done: (m) => ownerGone(m, 'vm1') && !running(m, 'fff51000.ethernet'),
    },
    {
      goal: 'Reload vfio-platform with reset_required=0',
      why: 'so that it takes fff52000.dma, which has no reset function (rmmod also unbinds the ethernet, which nothing holds open)',
      hint: 'rmmod, then modprobe with reset_required=0',
      commands: ['rmmod vfio-platform', 'modprobe vfio-platform reset_required=0'],
      done: (m) => resetRequiredOff(m),
      notYet: (m) => (vfioLoaded(m) ? 'vfio-platform is loaded with reset_required=Y: rmmod it first, parameters are read at load time' : null),
    },
    {
      goal: 'Pass fff52000.dma through, open it as "vm2" and start it',
      why: 'the same owner life as before, on a device nothing can reset',
      hint: 'passthrough, open --owner vm2, start',
      commands: ['passthrough fff52000.dma', 'open fff52000.dma --owner vm2', 'start fff52000.dma'],
      done: (m) => ownerAlive(m, 'vm2', 'fff52000.dma') && running(m, 'fff52000.dma'),
    },
    {
      goal: 'Kill "vm2"',
      why: 'the release path has no reset to call: the device keeps running, its DMA now hits an unmapped IOVA',
      hint: 'kill takes the owner name',
      commands: ['kill vm2'],
      done: (m) => ownerGone(m, 'vm2') && running(m, 'fff52000.dma'),
    },
    {
      goal: 'Open fff52000.dma as the next owner, "vm3"',
      why: 'time passes: the orphaned DMA faults in the IOMMU, and the IRQs it raised are waiting for whoever opens the device next',
      hint: 'open with --owner vm3, then read the kernel log',
      commands: ['open fff52000.dma --owner vm3'],
      after: ['dmesg --level 3'],
      done: (m) => ownerAlive(m, 'vm3', 'fff52000.dma'),
    },
    {
      goal: 'As "vm3", stop the device and close it',
      why: 'with no reset function, every new owner has to quiesce the device itself before trusting anything it sees',
      hint: 'stop, then close',
      commands: ['stop fff52000.dma', 'close fff52000.dma'],
      done: (m) => !ownerAlive(m, 'vm3', 'fff52000.dma') && !running(m, 'fff52000.dma'),
      notYet: (m) => (running(m, 'fff52000.dma') ? 'closed while running: with no reset function the close did not stop it; open it again, stop it, close it' : null),
    },
  ],
  outro: 'With a reset function, abnormal termination is harmless: the release path quiesces the device. Without one, the dead owner\'s DMA faults and its interrupts reach the next owner.',
};

const genericResetLesson: Scenario = {
  name: 'generic-reset',
  letter: 'e',
  title: 'The generic reset-controller what-if, and why it was never merged',
  intro:
    'fff80000.sata has no reset module, but its device-tree node has a "resets" line of its own. In 2018 Geert Uytterhoeven proposed ' +
    'letting vfio-platform reset such devices through the reset controller. It was never merged. vfioctl can act it out as a clearly ' +
    'labelled what-if.',
  steps: [
    modprobeStep(),
    {
      goal: 'Try the classic sequence on fff80000.sata and watch mainline refuse it',
      why: 'mainline vfio-platform knows only reset modules and ACPI _RST; a "resets" property does not count',
      hint: 'override, unbind, probe; then read the kernel lines',
      commands: ['override fff80000.sata vfio-platform', 'unbind fff80000.sata', 'probe fff80000.sata'],
      done: (m, since) => logged(m, since, 'No reset function found for device fff80000.sata'),
      refusal: MISSING_MODULE,
    },
    {
      goal: 'Switch on the generic-reset what-if',
      why: 'it is NOT in mainline Linux: vfioctl labels every result of it',
      hint: 'vfioctl policy',
      commands: ['policy generic-reset on'],
      done: (m) => m.options.genericResetWhatIf,
    },
    {
      goal: 'Probe fff80000.sata again',
      why: 'its reset line is dedicated (no other device uses it), so the what-if accepts it as a reset function',
      hint: 'the same probe',
      commands: ['probe fff80000.sata'],
      after: ['info fff80000.sata'],
      done: (m) => dev(m, 'fff80000.sata')?.vfio?.reset?.kind === 'reset-controller',
    },
    {
      goal: 'Try fff81000.pwm, whose reset line it shares with fff82000.pwm',
      why: 'asserting a shared line resets every block on it; that risk is why the series was not merged',
      hint: 'the same three steps on fff81000.pwm',
      commands: ['override fff81000.pwm vfio-platform', 'unbind fff81000.pwm', 'probe fff81000.pwm'],
      done: (m, since) => logged(m, since, 'No reset function found for device fff81000.pwm'),
      refusal: (code, m) =>
        code === 'ENOENT' && m.options.genericResetWhatIf
          ? 'refused, as this step expects: the pwm\'s reset line is shared, so even the what-if will not use it. A refused command saves nothing; use override, unbind and probe (probe succeeds and leaves the refusal in the log)'
          : null,
    },
    {
      goal: 'Switch the what-if off again',
      why: 'back to mainline behaviour (devices already bound keep their reset method until they are unbound)',
      hint: 'vfioctl policy … off',
      commands: ['policy generic-reset off'],
      done: (m) => !m.options.genericResetWhatIf,
    },
  ],
  outro:
    'The generic path was rejected because an exclusive reset control does not prove that the wire is dedicated: the device tree cannot ' +
    'promise that nothing else sits on the line. Mainline kept per-device reset modules (now deprecated themselves) and ACPI _RST.',
};

/**
 * Mistakes the kernel accepts, worth pointing out in any lesson: a device given to
 * vfio-platform whose group user space still cannot use.
 */
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

export const SCENARIOS: readonly Scenario[] = [passthroughLesson, noResetLesson, groupsLesson, terminationLesson, genericResetLesson];

export function findScenario(nameOrLetter: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === nameOrLetter || s.letter === nameOrLetter);
}
