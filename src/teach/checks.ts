/** Questions lessons ask the machine: who drives a device, is a module loaded, did the kernel log a line. */
import type { Machine, Device } from '../base/machine.js';
import { findDevice } from '../base/machine.js';
import { isLoaded, moduleParam } from '../base/module.js';

export const dev = (m: Machine, name: string): Device | undefined => findDevice(m, name);
export const driverOf = (m: Machine, name: string): string | null | undefined => dev(m, name)?.driver;
export const overrideOf = (m: Machine, name: string): string | null | undefined => dev(m, name)?.driverOverride;
export const vfioLoaded = (m: Machine): boolean => isLoaded(m, 'vfio_platform');
export const openCount = (m: Machine, name: string): number => dev(m, name)?.vfio?.openCount ?? 0;
export const running = (m: Machine, name: string): boolean => dev(m, name)?.activity.running ?? false;
/** a kernel line containing `text` logged after `since` */
export const logged = (m: Machine, since: number, text: string): boolean => m.log.some((l) => l.t > since && l.text.includes(text));
/** vfio-platform loaded with reset_required=0 (kept as N) */
export const resetRequiredOff = (m: Machine): boolean => moduleParam(m, 'vfio_platform', 'reset_required') === 'N';
export const ownerAlive = (m: Machine, owner: string, device: string): boolean => m.owners.some((o) => o.name === owner && o.alive && o.devices.includes(device));
/** no live process of that name (the kernel forgets a killed owner) */
export const ownerGone = (m: Machine, owner: string): boolean => !m.owners.some((o) => o.name === owner && o.alive);
