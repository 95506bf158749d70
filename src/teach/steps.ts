/**
 * Steps more than one lesson uses: load vfio-platform, override, unbind, probe, open and
 * start, and the refusal readings they share. A lesson file takes these and adds its own.
 */
import type { Machine } from '../base/machine.js';
import type { Step } from './scenario.js';
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

export const MISSING_MODULE = (code: string, m: Machine): string | null =>
  code === 'ENOENT' && !vfioLoaded(m) ? 'vfio-platform is not loaded, so /sys/bus/platform/drivers/vfio-platform does not exist yet: load it first (vfioctl modprobe vfio-platform)' : null;

/** unbinding before the override is set: it works, but a real machine could rebind the host driver at any moment */
export function unboundWithoutOverride(m: Machine, name: string, host: string): string | null {
  const d = dev(m, name);
  return d && d.driver === null && d.driverOverride === null
    ? `${name} is unbound but driver_override is not set: on a real machine any probe now (a hotplug event, a module load, drivers_autoprobe) would give it straight back to ${host}. Set the override first, then probe`
    : null;
}

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
