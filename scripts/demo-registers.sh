#!/bin/sh
# vfioctl demo "registers": The reset story at register level: DMA, a stale interrupt, the next owner's memory.
# The same narrated steps as `vfioctl demo registers`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-registers.sh). Generated from src/teach/lessons/registers.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo registers: The reset story at register level: DMA, a stale interrupt, the next owner'\''s memory =='
say 'fff50000.ethernet and fff60000.ethernet are both xgmac, with the same registers. vfio-platform has a reset module for the first (calxeda,hb-xgmac); the second is a clone whose compatible no reset module knows. Their owner programs DMA into its mapped buffer and dies. Read the registers and the memory of the next owners to see what a reset module is for.'
say
run load xgmac-twins
say
say '-- step 1/7: Load vfio-platform with reset_required=0'
say '   why: fff60000.ethernet has no reset function: with reset_required=1 (the default) vfio-platform refuses it with ENOENT'
run modprobe vfio-platform reset_required=0
say
say '-- step 2/7: Pass both devices through to vfio-platform'
say '   why: override, unbind and probe for each: the same sequence as lesson passthrough'
run passthrough fff50000.ethernet
run passthrough fff60000.ethernet
say
say '-- step 3/7: Open both as "vm1" and start them'
say '   why: start is what a driver does: an eventfd for each IRQ (VFIO_DEVICE_SET_IRQS), then register writes through the device fd: the DMA address, the interrupt enable, the TX/RX start bits'
run open fff50000.ethernet --owner vm1
run start fff50000.ethernet
run open fff60000.ethernet --owner vm1
run start fff60000.ethernet
run read fff50000.ethernet 0 0xf18
run mem vm1 0x100000 0x20
say
say '-- step 4/7: Kill "vm1"'
say '   why: the kernel closes the dead process'\''s fds; the last close of each device calls its reset function, if there is one'
run kill vm1
say
say '-- step 5/7: Open fff50000.ethernet as "vm2" and read its DMA control register'
say '   why: the reset module wrote 0 to DMA_INTR_ENA and cleared ST|SR and TE|RE: the engine is stopped and its interrupt line is quiet'
run open fff50000.ethernet --owner vm2
run read fff50000.ethernet 0 0xf18
run irq fff50000.ethernet 0 trigger --eventfd rx
run mem vm2 0x100000 0x20
say
say '-- step 6/7: Open fff60000.ethernet as "vm3" and set a trigger on its IRQ 0'
say '   why: nothing reset it: DMA_CONTROL still has ST|SR, its status bits still assert the level interrupt, so the trigger fires the moment it is set, before vm3 has programmed anything'
run open fff60000.ethernet --owner vm3
run irq fff60000.ethernet 0 trigger --eventfd rx
run read fff60000.ethernet 0 0xf18
run mem vm3 0x100000 0x100
say
say '-- step 7/7: As "vm3", quiesce fff60000.ethernet by hand: stop it, clear its status, unmask its IRQ'
say '   why: with no reset function the new owner must do what the reset module would have done before it can trust anything: and the buffer vm3 mapped already holds vm1'\''s engine'\''s records'
run stop fff60000.ethernet
run write fff60000.ethernet 0 0xf14 0x10040
run irq fff60000.ethernet 0 unmask
run read fff60000.ethernet 0 0xf18
say
say 'After fff50000.ethernet'\''s reset its owner found the engine stopped, no interrupt and a clean buffer. fff60000.ethernet kept running: its next owner got a stale interrupt before it programmed anything and found another process'\''s DMA in its freshly mapped memory, which is why vfio-platform requires a reset function by default.'
