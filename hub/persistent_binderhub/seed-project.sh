# Copies the image's home into a new project's folder. The project-seed init container runs
# it, between the two volume-maintenance steps, in the project's own image (repo2docker's
# build of any Git repository: untrusted code, its own /bin/sh and cp), as the notebook's uid:
#
#   seed-project HOME STAGING
#
# HOME is the image's home (the repository as repo2docker left it). STAGING is the folder
# VOLUME/.seeding-FOLDER and the only part of the user's volume mounted in this container:
# whatever this image does, it cannot reach the user's other projects. volume-maintenance
# prepare leaves `home` in it on a first launch; finish moves `home` to the project folder.
#
# On a relaunch STAGING/home does not exist: nothing is copied. Files of HOME that cannot be
# read (root-owned, mode 0600) are left out: the copy goes on, and with REPORT_FILE set the
# line `unreadable N` (N error lines) is the termination message. Any other error (a full
# disk) fails the container, and the launch; the next launch's prepare sweeps the staging
# folder. Permission errors say "Permission denied" or "Operation not permitted". Busybox cp
# also warns "can't preserve ownership" of every root-owned entry (which alone does not fail
# it) and says nothing more of a root-owned folder it cannot read: such warnings are not
# counted, and a failure with nothing else reports `unreadable 1`.
set -eu
LC_ALL=C
export LC_ALL

if [ $# -ne 2 ]; then
  echo "usage: seed-project HOME STAGING" >&2
  exit 2
fi
image_home=$1
staging=$2

if [ ! -d "$staging/home" ]; then
  echo "The project folder exists: nothing to copy"
  exit 0
fi
echo "Copying $image_home into the project folder"
status=0
errors=$(cp -a -- "$image_home/." "$staging/home/" 2>&1 >/dev/null) || status=$?
[ -z "$errors" ] || printf '%s\n' "$errors" >&2
[ "$status" -ne 0 ] || exit 0

unreadable=0
warned=0
while IFS= read -r line; do
  case $line in
    '') ;;
    *"can't preserve ownership"*) warned=1 ;;
    *'Permission denied'* | *'Operation not permitted'*) unreadable=$((unreadable + 1)) ;;
    *)
      echo "error: copying the image's home failed" >&2
      exit "$status"
      ;;
  esac
done <<EOF
$errors
EOF
if [ $((unreadable + warned)) -eq 0 ]; then
  echo "error: copying the image's home failed (cp exit status $status)" >&2
  exit "$status"
fi
[ "$unreadable" -gt 0 ] || unreadable=1
echo "Copied all but $unreadable unreadable entries"
if [ -n "${REPORT_FILE:-}" ]; then
  echo "unreadable $unreadable" >"$REPORT_FILE"
fi
