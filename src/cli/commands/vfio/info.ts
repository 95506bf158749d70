/** `info DEV`: VFIO_DEVICE_GET_INFO (cf. drivers/vfio/platform/vfio_platform_common.c vfio_platform_ioctl). */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { deviceInfo } from '../../../vfio/info.js';
import { hexFlags, queryDevice, queryOwnerOption } from './shared.js';
import { ownerFlag } from '../owner/shared.js';

/** SPEC §3 fixes the document to { flags, flagNames, numRegions, numIrqs }; the device name rides along for the human view only (not enumerable, so --json leaves it out) */
type InfoData = ReturnType<typeof deviceInfo> & { readonly device: string };

export default defineCommand({
  name: 'info',
  group: 'vfio',
  summary: 'VFIO_DEVICE_GET_INFO: flags, number of regions and IRQs',
  example: 'vfioctl info fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [queryOwnerOption],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }) {
    const dev = lookupDevice(m, o.device);
    return queryDevice(m, sys, dev, o.owner, () => {
      const i = deviceInfo(dev);
      sys.record(`ioctl(device, VFIO_DEVICE_GET_INFO, {argsz=24}) → flags=${hexFlags(i.flags)} num_regions=${i.numRegions} num_irqs=${i.numIrqs}`, 'what kind of device, how many regions and IRQ indexes', 'ok');
      return Object.defineProperty({ ...i }, 'device', { value: dev.name, enumerable: false }) as InfoData;
    });
  },
  render(i: InfoData) {
    return `${i.device}: flags ${hexFlags(i.flags)} (${i.flagNames.join('|')})  regions ${i.numRegions}  irqs ${i.numIrqs}\n` +
      (i.flags & 0x1 ? '' : `  no RESET flag: no reset function, so VFIO_DEVICE_RESET fails with EINVAL and nothing quiesces the device between owners\n`);
  },
});
