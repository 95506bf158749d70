/**
 * vfio_platform_call_reset (drivers/vfio/platform/vfio_platform_common.c): the one
 * reset routine behind first open, last close and VFIO_DEVICE_RESET. The reset
 * *lookup* (which handler a device gets) is probe-time work in ./platform.ts.
 */
import type { Machine, Device } from '../base/machine.js';
import { devInfo, devWarn, printk, KERN_WARNING } from '../klog/klog.js';

/** Run the device's reset function with the kernel's messages. Returns whether a reset ran. */
export function callReset(m: Machine, dev: Device): boolean {
  const r = dev.vfio?.reset ?? null;
  if (!r) {
    devWarn(m, dev, 'VFIO: no reset function found!');
    return false;
  }
  if (r.kind === 'module') {
    const h = m.resetHandlers.find((x) => x.module === r.module);
    if (h && h.deprecation && !h.warned) {
      printk(m, KERN_WARNING, h.deprecation);
      h.warned = true;
    }
  }
  devInfo(m, dev, 'VFIO: reset');
  const a = dev.activity;
  a.running = false;
  a.masked = a.masked.map(() => false);
  a.iova = null;
  return true;
}
