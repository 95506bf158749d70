#!/bin/sh
# vfioctl demo "no-reset": A device with no reset module: ENOENT, reset_required=0, and what it costs.
# The same narrated steps as `vfioctl demo no-reset`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-no-reset.sh). Generated from src/teach/lessons/no-reset.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo no-reset: A device with no reset module: ENOENT, reset_required=0, and what it costs =='
say 'fff52000.dma (acme,sim-dma) has no vfio-platform reset module and no ACPI _RST. Mainline vfio-platform refuses such a device, because nothing could quiesce it between owners. You will see the refusal, override it with reset_required=0, and see the price.'
say
run load default
say
say '-- step 1/7: Load the vfio-platform module'
say '   why: vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio'
run modprobe vfio-platform
say
say '-- step 2/7: Set driver_override of fff52000.dma to vfio-platform'
say '   why: override first: once it is set, only vfio-platform can match fff52000.dma, so nothing can grab it between unbind and probe'
run override fff52000.dma vfio-platform
say
say '-- step 3/7: Unbind fff52000.dma from its host driver acme-dma'
say '   why: writing driver_override never unbinds: the host driver keeps the device until its unbind file is written'
run unbind fff52000.dma
say
say '-- step 4/7: Probe fff52000.dma and watch vfio-platform refuse it'
say '   why: vfio-platform looks up a reset function by the first compatible string; without one the probe fails with ENOENT'
run probe fff52000.dma
run bind fff52000.dma
say
say '-- step 5/7: Reload vfio-platform with reset_required=0'
say '   why: module parameters are read at load time: rmmod, then modprobe with the parameter. Registering the driver autoprobes the overridden device'
run rmmod vfio-platform
run modprobe vfio-platform reset_required=0
run lsmod
run info fff52000.dma
say
say '-- step 6/7: Open fff52000.dma as "app" and start it'
say '   why: open gives no reset this time (the kernel warns "no reset function found!"); start programs DMA and IRQs'
run open fff52000.dma --owner app
run start fff52000.dma
say
say '-- step 7/7: Close it while it runs, and see what is left'
say '   why: this is the cost: the last close would normally reset the device; without a reset function it keeps running'
run close fff52000.dma
run show fff52000.dma
say
say 'With reset_required=0 vfio-platform takes the device, but nothing quiesces it between owners: it is still doing DMA and raising IRQs after the close. Lesson termination shows where that goes.'
