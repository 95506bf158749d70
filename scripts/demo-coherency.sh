#!/bin/sh
# vfioctl demo "coherency": An IOMMU that cannot enforce cache coherency: EINVAL although a reset exists.
# The same narrated steps as `vfioctl demo coherency`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-coherency.sh). Generated from src/teach/lessons/coherency.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo coherency: An IOMMU that cannot enforce cache coherency: EINVAL although a reset exists =='
say 'fff90000.video (acme,sim-vpu) has a vfio-platform reset module, so the reset check passes. But VFIO gives a device to user space only if its IOMMU can keep the device'\''s DMA cache-coherent (IOMMU_CAP_CACHE_COHERENCY), and the video block sits behind a second SMMU, fff01000.iommu, whose device-tree node is not "dma-coherent". You will watch the probe fail with -22, compare with fff51000.ethernet behind the coherent SMMU, and give the video block back to its host driver.'
say
run load default
say
say '-- step 1/6: Load the vfio-platform module'
say '   why: vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio'
run modprobe vfio-platform
say
say '-- step 2/6: Set driver_override of fff90000.video to vfio-platform'
say '   why: override first: once it is set, only vfio-platform can match fff90000.video, so nothing can grab it between unbind and probe'
run override fff90000.video vfio-platform
say
say '-- step 3/6: Unbind fff90000.video from its host driver acme-vpu'
say '   why: writing driver_override never unbinds: the host driver keeps the device until its unbind file is written'
run unbind fff90000.video
say
say '-- step 4/6: Probe fff90000.video and watch VFIO refuse it with -22'
say '   why: vfio-platform finds the reset module, then registers the device with VFIO, which asks the IOMMU driver whether it can enforce cache-coherent DMA. An arm-smmu can when its node is "dma-coherent" (coherent table walk) or the device is; fff01000.iommu is neither, so the probe fails with -EINVAL'
run probe fff90000.video
run bind fff90000.video
run dmesg --level 3
say
say '-- step 5/6: Compare: pass fff51000.ethernet through'
say '   why: the ethernet sits behind fff00000.iommu, whose node is "dma-coherent": the same check passes, and the device binds'
run passthrough fff51000.ethernet
run groups
say
say '-- step 6/6: Give fff90000.video back to acme-vpu'
say '   why: the refused probe left the video block unbound with its override set: clear the override and probe, and the host driver takes it back'
run override fff90000.video --clear
run probe fff90000.video
say
say 'A reset function is not enough: VFIO also refuses a device whose IOMMU cannot keep its DMA cache-coherent: its DMA could bypass the CPU caches, and user space would read stale data. On a real board the fix is in the device tree ("dma-coherent" on the SMMU node, when the hardware really is coherent), never in vfio.'
