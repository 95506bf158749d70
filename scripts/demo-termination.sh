#!/bin/sh
# vfioctl demo "termination": Abnormal termination, with and without a reset.
# The same narrated steps as `vfioctl demo termination`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-termination.sh). Generated from src/teach/lessons/termination.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo termination: Abnormal termination, with and without a reset =='
say 'A user-space driver can die at any moment. The kernel then closes its fds, and the release path resets the device, if it can. First with fff51000.ethernet, which has a reset module; then with fff52000.dma, which has none.'
say
run load default
say
say '-- step 1/9: Load the vfio-platform module'
say '   why: vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio'
run modprobe vfio-platform
say
say '-- step 2/9: Pass fff51000.ethernet through to vfio-platform'
say '   why: the whole sequence of lesson passthrough in one command'
run passthrough fff51000.ethernet
say
say '-- step 3/9: Open it as "vm1" and start it'
say '   why: a running device does DMA into the owner'\''s IOVA window and raises interrupts'
run open fff51000.ethernet --owner vm1
run start fff51000.ethernet
say
say '-- step 4/9: Kill "vm1"'
say '   why: the kernel releases every fd of the dead process; the last close resets the device, so it stops'
run kill vm1
run show fff51000.ethernet
say
say '-- step 5/9: Reload vfio-platform with reset_required=0'
say '   why: so that it takes fff52000.dma, which has no reset function (rmmod also unbinds the ethernet, which nothing holds open)'
run rmmod vfio-platform
run modprobe vfio-platform reset_required=0
say
say '-- step 6/9: Pass fff52000.dma through, open it as "vm2" and start it'
say '   why: the same owner life as before, on a device nothing can reset'
run passthrough fff52000.dma
run open fff52000.dma --owner vm2
run start fff52000.dma
say
say '-- step 7/9: Kill "vm2"'
say '   why: the release path has no reset to call: the device keeps running, its DMA now hits an unmapped IOVA'
run kill vm2
say
say '-- step 8/9: Open fff52000.dma as the next owner, "vm3"'
say '   why: time passes: the orphaned DMA faults in the IOMMU, and the IRQs it raised are waiting for whoever opens the device next'
run open fff52000.dma --owner vm3
run dmesg --level 3
say
say '-- step 9/9: As "vm3", stop the device and close it'
say '   why: with no reset function, every new owner has to quiesce the device itself before trusting anything it sees'
run stop fff52000.dma
run close fff52000.dma
say
say 'With a reset function, abnormal termination is harmless: the release path quiesces the device. Without one, the dead owner'\''s DMA faults and its interrupts reach the next owner.'
