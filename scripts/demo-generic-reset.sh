#!/bin/sh
# vfioctl demo "generic-reset": The generic reset-controller what-if, and why it was never merged.
# The same narrated steps as `vfioctl demo generic-reset`, as a plain shell script you can read,
# copy from, or run (sh scripts/demo-generic-reset.sh). Generated from src/teach/lessons/generic-reset.ts by
# `npm run gen-demos`: change the scenario, not this file.
# It runs on a scratch machine in a temporary directory; your own vfioctl state is not touched.
# Set VFIOCTL to use another vfioctl (default: this checkout's bin/vfioctl; run npm run build first).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib-demo.sh"

say '== vfioctl demo generic-reset: The generic reset-controller what-if, and why it was never merged =='
say 'fff80000.sata has no reset module, but its device-tree node has a "resets" line of its own. In 2018 Geert Uytterhoeven proposed letting vfio-platform reset such devices through the reset controller. It was never merged. vfioctl can act it out as a clearly labelled what-if.'
say
run load default
say
say '-- step 1/6: Load the vfio-platform module'
say '   why: vfio-platform is a module: until it is loaded there is no drivers/vfio-platform directory to bind to, and no /dev/vfio'
run modprobe vfio-platform
say
say '-- step 2/6: Try the classic sequence on fff80000.sata and watch mainline refuse it'
say '   why: mainline vfio-platform knows only reset modules and ACPI _RST; a "resets" property does not count'
run override fff80000.sata vfio-platform
run unbind fff80000.sata
run probe fff80000.sata
say
say '-- step 3/6: Switch on the generic-reset what-if'
say '   why: it is NOT in mainline Linux: vfioctl labels every result of it'
run policy generic-reset on
say
say '-- step 4/6: Probe fff80000.sata again'
say '   why: its reset line is dedicated (no other device uses it), so the what-if accepts it as a reset function'
run probe fff80000.sata
run info fff80000.sata
say
say '-- step 5/6: Try fff81000.pwm, whose reset line it shares with fff82000.pwm'
say '   why: asserting a shared line resets every block on it; that risk is why the series was not merged'
run override fff81000.pwm vfio-platform
run unbind fff81000.pwm
run probe fff81000.pwm
say
say '-- step 6/6: Switch the what-if off again'
say '   why: back to mainline behaviour (devices already bound keep their reset method until they are unbound)'
run policy generic-reset off
say
say 'The generic path was rejected because an exclusive reset control does not prove that the wire is dedicated: the device tree cannot promise that nothing else sits on the line. Mainline kept per-device reset modules (now deprecated themselves) and ACPI _RST.'
