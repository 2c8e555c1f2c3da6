# Prepares the user volume before the notebook server starts. Runs as the init container
# of every launch, in the project's own image, with the whole volume at $1:
#
#   seed-projects PROJECTS FOLDER HOME ADOPT [DELETED_FOLDER...]
#
# 1. removes the folders of projects the user deleted;
# 2. when ADOPT is "adopt" (the first launch of a user who had a plain JupyterHub home on
#    this volume), moves everything on the volume into previous-home, once: never on a
#    volume that a persistent launch has used already (the marker file says so), whatever
#    the hub's database says;
# 3. copies the image's HOME (the repository as repo2docker left it) into FOLDER, only if
#    FOLDER does not exist: a relaunch copies nothing. The copy goes to a temporary folder
#    first, so an interrupted copy is never mistaken for a finished one.
#
# Every value comes in as an argument; the hub checks each folder name is a single safe
# path segment. POSIX sh, as images may have nothing else.
set -eu

projects=$1
folder=$2
home=$3
adopt=$4
shift 4

single_segment() {
  case $1 in
    '' | . | .. | */*) echo "refusing unsafe folder name: $1" >&2 && exit 1 ;;
  esac
}
single_segment "$folder"
for gone in "$@"; do
  single_segment "$gone"
done

for gone in "$@"; do
  echo "Removing deleted project folder $gone"
  rm -rf -- "${projects:?}/$gone"
done

marker="$projects/.persistent-binderhub"
if [ "$adopt" = adopt ] && [ ! -e "$projects/previous-home" ] && [ ! -e "$marker" ]; then
  echo "Keeping the files of the previous home in previous-home"
  moving="$projects/.previous-home.moving"
  mkdir -p -- "$moving"
  for entry in "$projects"/* "$projects"/.[!.]* "$projects"/..?*; do
    name=${entry##*/}
    case $name in
      .previous-home.moving | lost+found) continue ;;
    esac
    if [ -e "$entry" ] || [ -L "$entry" ]; then
      # An entry that cannot move (a read-only folder) stays where it is: nothing is lost.
      mv -- "$entry" "$moving/" || echo "Left $name in place: it cannot be moved" >&2
    fi
  done
  mv -- "$moving" "$projects/previous-home"
fi

if [ -e "$projects/$folder" ]; then
  echo "Project folder $folder exists: keeping its files"
else
  echo "Copying the project into $folder"
  seeding="$projects/.seeding-$folder"
  rm -rf -- "$seeding"
  mkdir -p -- "$seeding"
  cp -a -- "$home/." "$seeding/"
  mv -- "$seeding" "$projects/$folder"
fi
touch -- "$marker"
