# The only program that changes a user's volume as a whole. The first and the last init
# containers of every launch run it, in a deployment-controlled image (Alpine or Debian:
# POSIX sh, busybox or GNU tools), as the notebook's uid, with the whole volume at VOLUME:
#
#   volume-maintenance prepare VOLUME FOLDER ADOPT [DELETED_FOLDER...]   (project-prepare)
#   volume-maintenance finish VOLUME FOLDER                              (project-finish)
#
# Between the two, the project's own image (untrusted code from any Git repository) copies
# its home into the staging folder VOLUME/.seeding-FOLDER, the only part of the volume it
# is given (seed-project.sh). So:
#
# prepare  takes the folders of deleted projects away (renamed to trash, then removed, even
#          when read-only), sweeps the trash and interrupted copies, moves a plain JupyterHub
#          home into previous-home once (ADOPT=adopt, and only on a volume without the
#          marker), creates the marker, and makes the staging folder: empty on a relaunch
#          (FOLDER is a real directory: nothing in it is touched), with an empty `home` in it
#          on a first launch (anything else at FOLDER's name is renamed aside, never deleted);
# finish   moves the copied `home` to FOLDER, if nothing is there, and removes the staging
#          folder with whatever the image left in it. It fails unless FOLDER is then a real
#          directory: the notebook must never start in a missing (root-created) home.
#
# The volume is the user's: any name on it may be a symlink planted to lead elsewhere. Work
# names are checked with [ -e ] || [ -L ], renamed within the volume root, and never
# followed. Every user-derived value arrives as an argument, never inside this text. With
# REPORT_FILE set (the termination message, 4096 bytes at most), one line per event:
#   kept-pending FOLDER            a deleted project's folder could not be taken away
#   adopted NAME                   the plain home's files are now in folder NAME
#   moved-aside FOLDER NEWNAME     what sat at FOLDER's name (not a directory) is now NEWNAME
#   leftover NAME                  trash that could not be removed yet (retried every launch)
set -eu
LC_ALL=C
export LC_ALL

report_lines=
marker_name=.persistent-binderhub

usage() {
  echo "usage: volume-maintenance prepare VOLUME FOLDER adopt|keep [DELETED_FOLDER...]" >&2
  echo "       volume-maintenance finish VOLUME FOLDER" >&2
  exit 2
}

# report WORD NAME...: one report line, whole lines only within Kubernetes' 4096 bytes. A
# name found on the volume may hold any byte: spaces and newlines would forge lines.
report() {
  line=$1
  shift
  for name in "$@"; do
    case $name in
      *[!A-Za-z0-9._+-]*) name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._+-' '?') ;;
    esac
    line="$line $name"
  done
  echo "report: $line"
  [ -n "${REPORT_FILE:-}" ] || return 0
  [ $((${#report_lines} + ${#line} + 1)) -le 4096 ] || return 0
  report_lines="$report_lines$line
"
  printf '%s' "$report_lines" >"$REPORT_FILE"
}

check_volume() {
  if ! real_dir "$1"; then
    echo "error: no volume at $1" >&2
    exit 1
  fi
}

check_name() {
  case $1 in
    '' | . | .. | */* | .* | -*)
      echo "refusing unsafe folder name: $1" >&2
      exit 1
      ;;
  esac
}

present() { [ -e "$1" ] || [ -L "$1" ]; }
real_dir() { [ -d "$1" ] && [ ! -L "$1" ]; }
# Tested first: most launches need no chmod, and every program started costs.
usable() { [ -r "$1" ] && [ -w "$1" ] && [ -x "$1" ]; }

# free_name BASE: sets $free to the first of BASE, BASE-2, BASE-3... unused in the volume root.
free_name() {
  free=$1
  suffix=1
  while present "$volume/$free"; do
    suffix=$((suffix + 1))
    free=$1-$suffix
  done
}

# Names get a prefix or a suffix: cut to 200 bytes, they stay within NAME_MAX (255).
cut_name() { printf '%.200s' "$1"; }

# to_trash NAME: renames VOLUME/NAME to a fresh .deleted-NAME ($free). A rename within one
# directory works even when NAME is a read-only directory; moving it elsewhere would not.
to_trash() {
  free_name ".deleted-$(cut_name "$1")"
  mv -- "$volume/$1" "$volume/$free"
}

# remove NAME: removes the trash entry VOLUME/NAME, or reports it. Only a real directory is
# chmod-ed (chmod -R follows a symlink given to it, not those it meets inside).
remove() {
  if real_dir "$volume/$1"; then
    chmod -R u+rwx -- "$volume/$1" || :
  fi
  rm -rf -- "${volume:?}/${1:?}" || report leftover "$1"
}

discard() {
  if to_trash "$1"; then
    remove "$free"
  else
    report leftover "$1"
  fi
}

# Deleted projects go to trash under their names first: a folder that cannot be taken away
# stays pending in the hub, and is never reused as the launching project's folder.
take_deleted() {
  for name in "$@"; do
    present "$volume/$name" || continue
    if to_trash "$name"; then
      echo "Removing the deleted project folder $name"
      continue
    fi
    report kept-pending "$name"
    if [ "$name" = "$folder" ]; then
      echo "error: the deleted project folder $name cannot be taken away: it cannot hold the new project" >&2
      exit 1
    fi
  done
}

# Interrupted or earlier copies go to trash, then the trash is emptied as far as it can be.
sweep() {
  for entry in "$volume"/.seeding-*; do
    present "$entry" || continue
    to_trash "${entry##*/}" || report leftover "${entry##*/}"
  done
  for entry in "$volume"/.deleted-*; do
    present "$entry" || continue
    remove "${entry##*/}"
  done
}

# A plain home's entries move into a fresh folder (mktemp: a planted name cannot redirect
# it), which then takes the first free previous-home name. Entries that cannot move stay.
adopt_plain_home() {
  echo "Keeping the files of the previous home in previous-home"
  work=$(mktemp -d "$volume/.previous-home.XXXXXX")
  for entry in "$volume"/* "$volume"/.[!.]* "$volume"/..?*; do
    present "$entry" || continue
    case ${entry##*/} in
      lost+found | "$marker_name" | .deleted-* | .seeding-* | .previous-home.*) continue ;;
    esac
    mv -- "$entry" "$work/" || echo "Left ${entry##*/} in place: it cannot be moved" >&2
  done
  free_name previous-home
  mv -- "$work" "$volume/$free"
  report adopted "$free"
}

# The staging folder is the seed container's only mount; `home` in it asks for a copy.
make_staging() {
  target=$volume/$folder
  staging=$volume/.seeding-$folder
  if real_dir "$target"; then
    echo "Project folder $folder exists: keeping its files"
    mkdir -- "$staging"
    return 0
  fi
  if present "$target"; then
    free_name "$(cut_name "$folder").moved-aside"
    mv -- "$target" "$volume/$free"
    report moved-aside "$folder" "$free"
  fi
  echo "The project's files will be copied into $folder"
  mkdir -- "$staging" "$staging/home"
}

prepare() {
  [ $# -ge 3 ] || usage
  volume=$1
  folder=$2
  adopt=$3
  shift 3
  check_volume "$volume"
  check_name "$folder"
  for name in "$@"; do
    check_name "$name"
  done
  case $adopt in
    adopt | keep) ;;
    *)
      echo "refusing ADOPT value (adopt or keep): $adopt" >&2
      exit 1
      ;;
  esac
  # The mount root: the user may have chmod-ed it (a volume root they do not own stays as is).
  usable "$volume" || chmod u+rwx -- "$volume" || echo "The volume root cannot be chmod-ed: going on" >&2
  take_deleted "$@"
  sweep
  marker=$volume/$marker_name
  if [ "$adopt" = adopt ] && ! present "$marker"; then
    adopt_plain_home
  fi
  # noclobber: the marker is created, never opened through something planted there.
  present "$marker" || (set -C && : >"$marker")
  make_staging
}

finish() {
  [ $# -eq 2 ] || usage
  volume=$1
  folder=$2
  check_volume "$volume"
  check_name "$folder"
  target=$volume/$folder
  staging=.seeding-$folder
  if real_dir "$volume/$staging"; then
    # The image may have made its staging folder or the copy (cp -a) read-only; a directory
    # moved to another parent must be writable itself.
    usable "$volume/$staging" || chmod u+rwx -- "$volume/$staging"
    if real_dir "$volume/$staging/home" && ! present "$target"; then
      usable "$volume/$staging/home" || chmod u+rwx -- "$volume/$staging/home"
      mv -- "$volume/$staging/home" "$target" || echo "The copy cannot be moved to $folder" >&2
    fi
  fi
  # Empty, unless the image left something: rmdir removes no symlink and no file.
  if present "$volume/$staging" && ! rmdir -- "$volume/$staging" 2>/dev/null; then
    discard "$staging"
  fi
  if ! real_dir "$target"; then
    echo "error: the project folder $folder is missing or not a directory: refusing to start the notebook without it" >&2
    exit 1
  fi
}

[ $# -gt 0 ] || usage
action=$1
shift
case $action in
  prepare) prepare "$@" ;;
  finish) finish "$@" ;;
  *) usage ;;
esac
