#!/bin/sh
# vfioctl demo "passthrough": Classic passthrough of a device with a reset module, and the way back.
# The same narrated steps as `vfioctl demo passthrough`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-passthrough.sh). Generated from src/teach/lessons/passthrough.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo passthrough: Classic passthrough of a device with a reset module, and the way back =='
say 'fff51000.ethernet is a Calxeda xgmac, bound at boot to its host driver calxedaxgmac. vfio-platform has a reset module for it (vfio_platform_calxedaxgmac), so it can be handed to user space safely. You will do it step by step, open it as a user-space program would, and give it back to the host driver.'
say
run load default
say
say '-- step 1/9: Load the vfio-platform module'
say '   why: vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio'
run modprobe vfio-platform
say
say '-- step 2/9: Set driver_override of fff51000.ethernet to vfio-platform'
say '   why: override first: once it is set, only vfio-platform can match fff51000.ethernet, so nothing can grab it between unbind and probe'
run override fff51000.ethernet vfio-platform
say
say '-- step 3/9: Unbind fff51000.ethernet from its host driver calxedaxgmac'
say '   why: writing driver_override never unbinds: the host driver keeps the device until its unbind file is written'
run unbind fff51000.ethernet
say
say '-- step 4/9: Probe fff51000.ethernet so that vfio-platform binds it'
say '   why: drivers_probe asks the bus to find a driver; with the override set, vfio-platform is the only candidate'
run probe fff51000.ethernet
run groups
run info fff51000.ethernet
say
say '-- step 5/9: Open the device as the user-space program "qemu"'
say '   why: the kernel resets the device on first open (the reset module makes that possible), so the owner starts from a quiet device'
run open fff51000.ethernet --owner qemu
say
say '-- step 6/9: Close it again'
say '   why: the last close resets the device too, so the next owner (or the host driver) gets it quiet'
run close fff51000.ethernet
say
say '-- step 7/9: The way back, 1/3: clear driver_override'
say '   why: while the override names vfio-platform, the host driver can never match the device again'
run override fff51000.ethernet --clear
say
say '-- step 8/9: The way back, 2/3: unbind it from vfio-platform'
say '   why: clearing the override never unbinds either: vfio-platform keeps the device until you unbind it'
run unbind fff51000.ethernet
say
say '-- step 9/9: The way back, 3/3: probe it so that calxedaxgmac binds again'
say '   why: with no override, the bus matches by compatible string and the host driver takes the device back'
run probe fff51000.ethernet
run status
say
say 'That is the whole sequence: modprobe, override, unbind, probe, and back with clear, unbind, probe. `vfioctl passthrough` and `vfioctl restore` do the same in one command each.'
