#!/bin/sh
# vfioctl demo "groups": IOMMU groups and viability.
# The same narrated steps as `vfioctl demo groups`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-groups.sh). Generated from src/teach/lessons/groups.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo groups: IOMMU groups and viability =='
say 'fff60000.crypto and fff61000.rng sit behind the same IOMMU stream, so they share IOMMU group 2. The group, not the device, is what user space owns: it is usable only when every device in it is unbound or bound to a VFIO driver.'
say
run load default
say
say '-- step 1/7: Load the vfio-platform module'
say '   why: vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio'
run modprobe vfio-platform
say
say '-- step 2/7: Give fff60000.crypto to vfio-platform'
say '   why: crypto has a reset module, so it binds; but binding one device of a group does not make the group usable'
run passthrough fff60000.crypto
run groups
say
say '-- step 3/7: Make group 2 viable: take fff61000.rng away from its host driver'
say '   why: opening /dev/vfio/2 fails with EPERM while acme-rng drives the rng: user space would control DMA for a device a kernel driver uses'
run open fff60000.crypto --owner app
run override fff61000.rng vfio-platform
run unbind fff61000.rng
run groups
say
say '-- step 4/7: Open fff60000.crypto as "app"'
say '   why: now every member of group 2 is unbound or on vfio-platform, so the group can be attached to a container'
run open fff60000.crypto --owner app
say
say '-- step 5/7: Clear fff61000.rng'\''s override while "app" owns the group'
say '   why: acme-rng could match the rng again, but a kernel DMA driver must use the group'\''s default domain: while user space owns the group, dma_configure refuses it before acme-rng'\''s probe runs (bind gets EBUSY, drivers_probe EINVAL, and nothing is logged)'
run override fff61000.rng --clear
say
say '-- step 6/7: Close fff60000.crypto'
say '   why: the last close releases the group: the kernel owns its DMA again'
run close fff60000.crypto
say
say '-- step 7/7: Now probe fff61000.rng again'
say '   why: with no user-space owner, acme-rng can claim the default domain, and group 2 is not viable any more'
run probe fff61000.rng
run groups
say
say 'Viability is a property of the group: every device in it must be unbound or on a VFIO driver before user space may own it, and a host driver cannot come back while it does.'
