# Sourced by scripts/demo-*.sh (generated with them by `npm run gen-demos`).
# A scratch machine in a temporary directory, removed on exit, and two helpers:
#   say TEXT      print a line of narration
#   run ARGS…     print "$ vfioctl ARGS…", run it (stderr to stdout), show a non-zero exit status
here=$(cd "$(dirname "$0")" && pwd)
VFIOCTL=${VFIOCTL:-"$here/../bin/vfioctl"}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
VFIOCTL_STATE="$scratch/state.json"
export VFIOCTL_STATE

say() { printf '%s\n' "${1-}"; }
run() {
  printf '$ vfioctl %s\n' "$*"
  "$VFIOCTL" "$@" 2>&1
  status=$?
  [ "$status" -eq 0 ] || printf '[exit %s]\n' "$status"
}
