/**
 * Steps more than one lesson uses: load vfio-platform, override, unbind, probe, open and
 * start, and the refusal readings they share. A lesson file takes these and adds its own.
 */
import type { Machine } from '../base/machine.js';
import type { Refused, Step } from './scenario.js';
import { dev, driverOf, vfioLoaded, ownerAlive, running } from './checks.js';

export function openAndStartStep(name: string, owner: string, why: string): Step {
  return {
    goal: `Open ${name} as "${owner}" and start it`,
    why,
    hint: `open with --owner ${owner}, then start`,
    commands: [`open ${name} --owner ${owner}`, `start ${name}`],
    done: (m) => ownerAlive(m, owner, name) && running(m, name),
  };
}

export function modprobeStep(): Step {
  return {
    goal: 'Load the vfio-platform module',
    why: 'vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio',
    hint: 'modules are loaded with modprobe; vfioctl has a command of the same name',
    commands: ['modprobe vfio-platform'],
    done: vfioLoaded,
  };
}

/** a write into drivers/vfio-platform/ before the module is loaded */
export const MISSING_MODULE = (r: Refused, m: Machine): string | null =>
  r.code === 'ENOENT' && !vfioLoaded(m) && (r.path?.includes('/drivers/vfio-platform/') ?? false)
    ? 'vfio-platform is not loaded, so /sys/bus/platform/drivers/vfio-platform does not exist yet: load it first (vfioctl modprobe vfio-platform)'
    : null;

/** unbinding before the override is set: it works, but a real machine could rebind the host driver at any moment */
export function unboundWithoutOverride(m: Machine, name: string, host: string): string | null {
  const d = dev(m, name);
  return d && d.driver === null && d.driverOverride === null
    ? `${name} is unbound but driver_override is not set: unbinding first is the order driverctl uses, and it is a race: until the override is written, any probe (a module load, a new driver registering, drivers_probe from udev or a script) gives ${name} straight back to ${host}. Set the override now, then probe (vfioctl lesson hint says why both orders exist)`
    : null;
}

/** Why the lessons write driver_override before unbinding, although driverctl and others unbind first (issue 13.7). */
export const OVERRIDE_FIRST = (host: string): string =>
  'Override first, or unbind first? Both orders work on a quiet machine and both are in use: driverctl set-override (like VILLASnode and DPDK\'s guide) ' +
  'unbinds first, then writes driver_override, then probes. The difference is a race. Between the unbind and the override write the device is unbound ' +
  `with nothing steering it, and anything that probes unbound devices in that window (loading ${host}'s module, another driver registering, udev or a ` +
  `script writing drivers_probe) binds ${host} again. Unbinding never reprobes by itself, so on a quiet machine nothing happens and the window lasts ` +
  'milliseconds; but nothing closes it. Writing the override first does: from then on only vfio-platform can match, and while the host driver still ' +
  'drives the device the override changes nothing. Unbinding first has one argument for it: if the unbind fails, no override is left behind on a ' +
  'device its host driver still drives (a leftover override takes effect at the next probe or boot, which matters to a tool that saves overrides).';

export function overrideStep(name: string): Step {
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

export function unbindStep(name: string, host: string): Step {
  return {
    goal: `Unbind ${name} from its host driver ${host}`,
    why: 'writing driver_override never unbinds: the host driver keeps the device until its unbind file is written',
    hint: `the device's driver has an unbind file: /sys/bus/platform/drivers/${host}/unbind`,
    commands: [`unbind ${name}`],
    done: (m) => driverOf(m, name) !== host,
  };
}

export function probeStep(name: string): Step {
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
