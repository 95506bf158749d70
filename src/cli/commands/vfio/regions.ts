/** `regions DEV`: VFIO_DEVICE_GET_REGION_INFO for each region (cf. vfio_platform_common.c, VFIO_PLATFORM_OFFSET_SHIFT). */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { regionInfo } from '../../../vfio/info.js';
import { table } from '../../output.js';
import { hexFlags, queryDevice, queryOwnerOption } from './shared.js';
import { ownerFlag } from '../owner/shared.js';

export interface RegionsData {
  device: string;
  regions: { index: number; offset: string; size: string; flags: number; flagNames: string[]; start: string; mmap: boolean }[];
}

export default defineCommand({
  name: 'regions',
  group: 'vfio',
  summary: 'VFIO_DEVICE_GET_REGION_INFO for each region: offset, size, flags',
  example: 'vfioctl regions fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [queryOwnerOption],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }): RegionsData {
    const dev = lookupDevice(m, o.device);
    return queryDevice(m, sys, dev, o.owner, () => {
      const r = regionInfo(dev);
      r.forEach((x) => sys.record(`ioctl(device, VFIO_DEVICE_GET_REGION_INFO, {argsz=32, index=${x.index}}) → offset=${x.offset} size=${x.size} flags=${hexFlags(x.flags)}`, 'where to pread/pwrite/mmap the region in the device fd', 'ok'));
      return { device: dev.name, regions: r.map(({ index, offset, size, flags, flagNames, start, mmap }) => ({ index, offset, size, flags, flagNames, start, mmap })) };
    });
  },
  render: (d: RegionsData) =>
    d.regions.length
      ? table([['index', 'offset', 'size', 'flags', 'names', 'phys'], ...d.regions.map((x) => [String(x.index), x.offset, x.size, hexFlags(x.flags), x.flagNames.join('|'), x.start + (x.mmap ? '' : '  (not page-aligned: no mmap)')])])
      : `${d.device}: no regions\n`,
});
