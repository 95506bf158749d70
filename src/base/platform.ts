/**
 * The platform (and AMBA) bus glue of the driver core, cf. drivers/base/platform.c
 * (platform_match, platform_uevent, modalias_show), drivers/amba/bus.c (amba_match,
 * amba_uevent) and drivers/of/device.c (of_device_uevent, of_modalias).
 */
import type { Machine, Device, Driver } from './machine.js';

/**
 * platform_match: driver_override first and exclusive, then the OF compatible table,
 * then the device name. amba_match: override, then the peripheral id table (our
 * catalog gives AMBA drivers compatibles standing for their id tables).
 */
export function platformMatch(drv: Driver, dev: Device): boolean {
  if (drv.bus !== dev.bus) return false;
  if (dev.driverOverride !== null) return dev.driverOverride === drv.name;
  if (drv.compatible.length > 0 && dev.of.compatible.some((c) => drv.compatible.includes(c))) return true;
  // amba_match uses the peripheral id table only; the name fallback is platform's
  return dev.bus === 'platform' && dev.name === drv.name;
}

/** The AMBA peripheral id as uevent and `id` print it: 8 lowercase hex digits. */
export function ambaId(dev: Device): string {
  return (dev.periphid ?? 0).toString(16).padStart(8, '0');
}

/**
 * The `modalias` attribute without its newline: OF devices `of:N<name>T<type>C<compat>…`
 * (spaces in compatibles become '_'; no device_type prints `(null)`, `<NULL>` on older
 * kernels), AMBA devices `amba:d<ID>`.
 */
export function ofModalias(m: Machine, dev: Device): string {
  if (dev.bus === 'amba') return `amba:d${ambaId(dev).toUpperCase()}`;
  const t = dev.of.type ?? (m.options.legacyMessages ? '<NULL>' : '(null)');
  return `of:N${dev.of.name}T${t}` + dev.of.compatible.map((c) => 'C' + c.replace(/ /g, '_')).join('');
}

/**
 * What reading `uevent` shows: DRIVER= (while bound), the OF_* variables of
 * of_device_uevent (OF_ALIAS_<n> for every /aliases entry naming the node, in
 * /aliases order), AMBA_ID= on AMBA, then the bus's MODALIAS=.
 */
export function deviceUevent(m: Machine, dev: Device): string[] {
  const lines: string[] = [];
  if (dev.driver) lines.push(`DRIVER=${dev.driver}`);
  lines.push(`OF_NAME=${dev.of.name}`, `OF_FULLNAME=${dev.of.fullName}`);
  if (dev.of.type) lines.push(`OF_TYPE=${dev.of.type}`);
  dev.of.compatible.forEach((c, i) => lines.push(`OF_COMPATIBLE_${i}=${c}`));
  lines.push(`OF_COMPATIBLE_N=${dev.of.compatible.length}`);
  dev.of.aliases.forEach((a, i) => lines.push(`OF_ALIAS_${i}=${a}`));
  if (dev.bus === 'amba') lines.push(`AMBA_ID=${ambaId(dev)}`);
  lines.push(`MODALIAS=${ofModalias(m, dev)}`);
  return lines;
}
