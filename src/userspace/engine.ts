/**
 * The device activity model: what a device's engine does while time passes, driven by
 * its registers (./registers.ts). A running engine writes one 16-byte record per step
 * at its DMA address (through the IOMMU: the group owner's mapping, or a fault), sets its
 * status bits, and raises its IRQs, which the VFIO handlers deliver (src/vfio/irq.ts).
 */
import type { Machine, Device } from '../base/machine.js';
import { isRunning } from '../base/machine.js';
import { hwOf, modelOf } from './registers.js';
import { deviceDmaWrite, CHUNK } from '../vfio/dma.js';
import { edgeRaised, pollIrqs } from '../vfio/irq.js';

/** Keep the summary fields of `activity` (status, graph, kill) in step with the registers. */
export function syncActivity(_m: Machine, dev: Device): void {
  const hw = hwOf(dev);
  const model = modelOf(dev);
  const a = dev.activity;
  a.running = model.running(hw, dev);
  const d = a.running ? model.dma(hw, dev) : null;
  if (d) a.iova = { start: '0x' + d.addr.toString(16), size: '0x' + d.len.toString(16) };
}

/** The record a device writes: its sequence number (little-endian) and the first 12 bytes of its name. */
export function dmaRecord(dev: Device, seq: number): Uint8Array {
  const b = new Uint8Array(CHUNK);
  b[0] = seq & 0xff;
  b[1] = (seq >>> 8) & 0xff;
  b[2] = (seq >>> 16) & 0xff;
  b[3] = (seq >>> 24) & 0xff;
  for (let i = 0; i < 12 && i < dev.name.length; i++) b[4 + i] = dev.name.charCodeAt(i) & 0x7f;
  return b;
}

/** One step of a running device: one DMA record, the status bits, the IRQs. */
export function step(m: Machine, dev: Device): void {
  const hw = hwOf(dev);
  const model = modelOf(dev);
  if (!model.running(hw, dev)) return;
  const a = dev.activity;
  const d = model.dma(hw, dev);
  if (d && d.len >= CHUNK) {
    const at = d.addr + BigInt((hw.seq * CHUNK) % (d.len - (d.len % CHUNK)));
    if (deviceDmaWrite(m, dev, at, dmaRecord(dev, hw.seq))) a.dmaWrites += CHUNK;
    else a.dmaFaults += 1;
    hw.seq++;
  }
  for (const i of model.completed(hw, dev)) edgeRaised(m, dev, i);
  pollIrqs(m, dev);
  syncActivity(m, dev);
}

/** Time passes (one mutating command): every running device runs one step. */
export function advance(m: Machine): void {
  for (const dev of m.devices) if (isRunning(dev)) step(m, dev);
}
