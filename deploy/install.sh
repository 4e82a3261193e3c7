#!/usr/bin/env bash
# Install, upgrade or roll back the library kiosk on Raspberry Pi OS 64-bit Lite (Bookworm) or
# Debian 12. One command, safe to run again:
#
#   sudo deploy/install.sh --wheel library_kiosk-0.2.0-py3-none-any.whl [--role kiosk|returns]
#   sudo deploy/install.sh --rollback          # back to the release before the current one
#   sudo deploy/install.sh --list              # releases on this machine
#
# What it does, each step skipped when already done: Debian packages; groups and the system user
# `kiosk`; a virtualenv per release in /opt/kiosk/releases/<version>, with /opt/kiosk/current
# pointing at the one in use (an upgrade builds the new release beside the old one, checks that it
# starts, then switches the link and restarts the services: the old release stays for --rollback);
# the config skeleton in /etc/kiosk (created once, never overwritten); the journal directory
# /var/lib/kiosk; udev rules; the systemd units, enabled for the station's role, and the central
# config pull's timer, enabled when the configuration names a [central_config] url.
#
# --root DIR installs into a staged root instead of this machine (tests, image builds): a root with
# its own python3 (debootstrap) gets its venv and Debian packages built inside it through chroot;
# a bare directory gets a venv built with this machine's python3 at DIR/opt/..., usable from this
# machine only (tests). Users go into DIR/etc/passwd (useradd --prefix); nothing is started.
#
# Run from a checkout or a copy of the repository's deploy/ and systemd/ directories. The last line
# of output is machine-readable for Ansible:
#   kiosk-install: result=installed|upgraded|reinstalled|changed|unchanged|rolled-back current=<v> previous=<v>
set -Eeuo pipefail
trap 'echo "install.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$HERE")

usage() {
  cat <<'EOF'
usage: install.sh --wheel FILE [options]     install or upgrade
       install.sh --rollback [--root DIR]    switch back to the previous release
       install.sh --list [--root DIR]        show the releases

  --wheel FILE        the kiosk's wheel (pip wheel --no-deps . builds it)
  --wheelhouse DIR    install dependencies from DIR only (pip --no-index), e.g. arm64 wheels
                      built once for pyscard and evdev, so fleet devices need no compiler
  --role ROLE         kiosk (touch screen, kiosk-ui) or returns (headless bin, kiosk-returns);
                      default: kiosk
  --extras LIST       pip extras of the kiosk, comma-separated, or "none"; default: evdev,usb
                      plus pi on a Raspberry Pi
  --constraints FILE  pin the dependencies (pip -c); default: requirements.lock beside deploy/
                      when there is one; "none" resolves them afresh
  --python PATH       interpreter for the venv (default /usr/bin/python3 of the target)
  --reinstall         rebuild a release that exists already (a rebuilt wheel of the same version)
  --keep N            releases kept besides current and previous (default 3)
  --no-apt            do not install Debian packages
  --no-restart        do not restart running services (Ansible restarts them in a handler)
  --root DIR          install into a staged root (see the top of this file)
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

ROOT=""
WHEEL=""
WHEELHOUSE=""
ROLE=kiosk
EXTRAS=auto
CONSTRAINTS=auto
PYTHON=""
REINSTALL=no
KEEP=3
APT=yes
RESTART=yes
ACTION=install

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) WHEEL=${2:?--wheel needs a file}; shift 2 ;;
    --wheelhouse) WHEELHOUSE=${2:?--wheelhouse needs a directory}; shift 2 ;;
    --role) ROLE=${2:?--role needs kiosk or returns}; shift 2 ;;
    --extras) EXTRAS=${2?--extras needs a list}; shift 2 ;;
    --constraints) CONSTRAINTS=${2:?--constraints needs a file or none}; shift 2 ;;
    --python) PYTHON=${2:?--python needs a path}; shift 2 ;;
    --reinstall) REINSTALL=yes; shift ;;
    --keep) KEEP=${2:?--keep needs a number}; shift 2 ;;
    --no-apt) APT=no; shift ;;
    --no-restart) RESTART=no; shift ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --rollback) ACTION=rollback; shift ;;
    --list) ACTION=list; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

case "$ROLE" in kiosk|returns) ;; *) die "--role must be kiosk or returns, not '$ROLE'" ;; esac
case "$KEEP" in ''|*[!0-9]*) die "--keep needs a whole number, not '$KEEP'" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates a system user and writes /opt, /etc, /var"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=""
fi

# Paths on the target system, and the same paths as this script sees them.
OPT=/opt/kiosk
ETC=/etc/kiosk
STATE=/var/lib/kiosk
CACHE=/var/cache/kiosk
UNIT_DIR=/usr/local/lib/systemd/system
UDEV_DIR=/etc/udev/rules.d
T() { printf '%s%s' "$ROOT" "$1"; }

KIOSK_GROUPS=(video render input audio dialout plugdev gpio)
APT_PACKAGES=(
  python3 python3-venv python3-dev gcc libc6-dev linux-libc-dev swig   # venv, pyscard and evdev builds
  pcscd libpcsclite1 libpcsclite-dev libccid                          # PC/SC readers
  libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri libgbm1 libdrm2 libmtdev1   # Kivy on KMS/DRM
  udev systemd ca-certificates
)
UNITS=(kiosk-ui.service kiosk-sync.service kiosk-returns.service kiosk-config-pull.service kiosk-config-pull.timer)
PULL_TIMER=kiosk-config-pull.timer

# ---------------------------------------------------------------------------------------------
# Running things in the target

# A staged root with its own python3 (debootstrap) builds its venv and runs apt inside it.
root_is_system() { [ -n "$ROOT" ] && [ -x "$ROOT/usr/bin/python3" ]; }
live_systemd() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

MOUNTS=()
POLICY_CREATED=no
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
  if [ "$POLICY_CREATED" = yes ]; then rm -f "$ROOT/usr/sbin/policy-rc.d"; fi
}
trap cleanup EXIT

# Mounted once, by the main shell (never from a $(...) or a pipeline: a subshell's MOUNTS would be
# lost and its mounts never undone), before anything runs inside the root.
chroot_mounts() {
  root_is_system || return 0
  [ ${#MOUNTS[@]} -eq 0 ] || return 0
  local fs
  mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
  for fs in /dev /dev/pts /sys; do
    mount --bind "$fs" "$ROOT$fs" && MOUNTS+=("$ROOT$fs")
  done
}

# Run a command on the target: chroot for a system root, else here.
on_target() {
  if root_is_system; then
    [ ${#MOUNTS[@]} -gt 0 ] || die "internal: chroot_mounts must run before on_target"
    chroot "$ROOT" "$@"
  else
    "$@"
  fi
}

# ---------------------------------------------------------------------------------------------
# Steps

check_os() {
  local id="" version=""
  if [ -r "$(T /etc/os-release)" ]; then
    id=$(sed -n 's/^ID=//p' "$(T /etc/os-release)" | tr -d '"')
    version=$(sed -n 's/^VERSION_ID=//p' "$(T /etc/os-release)" | tr -d '"')
  fi
  case "$id:$version" in
    debian:12|raspbian:12) ;;
    *) note "warning: made for Debian 12 / Raspberry Pi OS Bookworm, this is '${id:-unknown} ${version:-?}'" ;;
  esac
}

install_debian_packages() {
  if [ "$APT" = no ]; then note "Debian packages: skipped (--no-apt)"; return 0; fi
  if [ -n "$ROOT" ] && ! [ -x "$ROOT/usr/bin/apt-get" ]; then
    note "Debian packages: skipped (no apt-get in $ROOT)"; return 0
  fi
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    # shellcheck disable=SC2016  # ${Status} is dpkg-query's format, not a shell variable
    on_target dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then note "Debian packages: all present"; return 0; fi
  log "installing Debian packages: ${missing[*]}"
  if [ -n "$ROOT" ] && [ ! -e "$ROOT/usr/sbin/policy-rc.d" ]; then
    # No service may start inside a staged root (pcscd's postinst would try).
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
    chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
    POLICY_CREATED=yes
  fi
  on_target apt-get update -qq
  on_target env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

has_group() { grep -q "^$1:" "$(T /etc/group)" 2>/dev/null; }
has_user() { grep -q "^$1:" "$(T /etc/passwd)" 2>/dev/null; }
prefix_args() { if [ -n "$ROOT" ]; then printf '%s\n' --prefix "$ROOT"; fi; }

ensure_user() {
  local g args=() prefix=()
  mapfile -t prefix < <(prefix_args)
  for g in "${KIOSK_GROUPS[@]}"; do
    if ! has_group "$g"; then
      groupadd --system "${prefix[@]}" "$g"
      note "created group $g"
    fi
  done
  local list
  list=$(IFS=,; echo "${KIOSK_GROUPS[*]}")
  if ! has_user kiosk; then
    args=(--system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin
      --comment "Library kiosk" --groups "$list")
    useradd "${prefix[@]}" "${args[@]}" kiosk
    note "created system user kiosk (groups $list)"
  else
    usermod "${prefix[@]}" --append --groups "$list" kiosk
  fi
  KIOSK_UID=$(awk -F: '$1 == "kiosk" { print $3 }' "$(T /etc/passwd)")
  KIOSK_GID=$(awk -F: '$1 == "kiosk" { print $4 }' "$(T /etc/passwd)")
  if [ -z "$KIOSK_UID" ] || [ -z "$KIOSK_GID" ]; then
    die "user kiosk not found in $(T /etc/passwd) after creating it"
  fi
}

# mkdir with mode and numeric owner (names would resolve against this machine, not a staged root).
ensure_dir() {
  local path=$1 mode=$2 owner=$3
  mkdir -p "$(T "$path")"
  chmod "$mode" "$(T "$path")"
  chown "$owner" "$(T "$path")"
}

ensure_dirs() {
  ensure_dir "$OPT" 0755 0:0
  ensure_dir "$OPT/releases" 0755 0:0
  ensure_dir "$OPT/wheels" 0755 0:0
  ensure_dir "$ETC" 0755 0:0
  ensure_dir "$ETC/kiosk.d" 0755 0:0
  ensure_dir "$STATE" 0750 "$KIOSK_UID:$KIOSK_GID"
  ensure_dir "$STATE/kivy" 0750 "$KIOSK_UID:$KIOSK_GID"
  ensure_dir "$CACHE" 0750 "$KIOSK_UID:$KIOSK_GID"
}

# Copy a file unless the target already has the same bytes; CHANGED_FILES counts real changes.
CHANGED_FILES=0
install_file() {
  local src=$1 dest=$2 mode=$3
  if [ -f "$(T "$dest")" ] && cmp -s "$src" "$(T "$dest")"; then
    chmod "$mode" "$(T "$dest")"
    return 1
  fi
  mkdir -p "$(dirname "$(T "$dest")")"
  install -m "$mode" -o 0 -g 0 "$src" "$(T "$dest")"
  CHANGED_FILES=$((CHANGED_FILES + 1))
  return 0
}

install_config() {
  # Created once; afterwards they are IT's files (or Ansible's) and an upgrade never touches them.
  if [ ! -e "$(T "$ETC/kiosk.toml")" ]; then
    install -m 0644 -o 0 -g 0 "$HERE/config/kiosk.toml" "$(T "$ETC/kiosk.toml")"
    note "created $ETC/kiosk.toml (edit it: site, ILS)"
  fi
  if [ ! -e "$(T "$ETC/secrets.toml")" ]; then
    install -m 0600 -o 0 -g 0 "$HERE/config/secrets.toml" "$(T "$ETC/secrets.toml")"
    note "created $ETC/secrets.toml (root only; the services get it through LoadCredential=)"
  else
    local mode
    mode=$(stat -c %a "$(T "$ETC/secrets.toml")")
    if [ $((8#$mode & 8#077)) -ne 0 ]; then
      # kiosk/config.py refuses a secrets file others can read: fix it rather than fail at start.
      chmod go-rwx "$(T "$ETC/secrets.toml")"
      note "warning: $ETC/secrets.toml was mode $mode; now $(stat -c %a "$(T "$ETC/secrets.toml")")"
    fi
  fi
}

UDEV_CHANGED=no
install_udev() {
  if install_file "$HERE/udev/70-kiosk.rules" "$UDEV_DIR/70-kiosk.rules" 0644; then UDEV_CHANGED=yes; fi
  if [ ! -e "$(T "$UDEV_DIR/71-kiosk-local.rules")" ]; then
    install -m 0644 -o 0 -g 0 "$HERE/udev/71-kiosk-local.rules" "$(T "$UDEV_DIR/71-kiosk-local.rules")"
  fi
  if [ "$UDEV_CHANGED" = yes ]; then reload_udev; fi
}

reload_udev() {
  if [ -z "$ROOT" ] && command -v udevadm >/dev/null; then
    udevadm control --reload
    udevadm trigger --subsystem-match=tty --subsystem-match=input --subsystem-match=usb \
      --subsystem-match=usbmisc --subsystem-match=gpio
  fi
}

# The units from a directory: this bundle's systemd/, or the copy a release keeps (rollback).
UNITS_CHANGED=no
install_units() {
  local from=${1:-$SOURCE/systemd} unit
  for unit in "${UNITS[@]}"; do
    if [ ! -f "$from/$unit" ]; then
      # A release from before this unit existed (rollback): the installed copy stays.
      note "$unit: not in $from, left as installed"
      continue
    fi
    if install_file "$from/$unit" "$UNIT_DIR/$unit" 0644; then UNITS_CHANGED=yes; fi
  done
  if [ "$UNITS_CHANGED" = yes ] && live_systemd; then systemctl daemon-reload; fi
}

systemctl_target() {
  if [ -n "$ROOT" ]; then systemctl --root="$ROOT" "$@"; else systemctl "$@"; fi
}

role_units() {
  if [ "$ROLE" = kiosk ]; then echo kiosk-ui.service kiosk-sync.service; else echo kiosk-returns.service kiosk-sync.service; fi
}

# What is enabled, as a listing to compare before and after (a role switch changes it).
enablement() {
  [ -d "$(T /etc/systemd/system)" ] || return 0
  find "$(T /etc/systemd/system)" -maxdepth 2 \( -name 'kiosk-*.service' -o -name 'getty@tty1.service' \
    -o -name pcscd.socket \) -printf '%p -> %l\n' | sort
}

ENABLE_CHANGED=no
OTHER_UNIT=""
enable_units() {
  local enable other before
  read -r -a enable <<<"$(role_units)"
  if [ "$ROLE" = kiosk ]; then other=kiosk-returns.service; else other=kiosk-ui.service; fi
  OTHER_UNIT=$other
  before=$(enablement)
  systemctl_target disable --quiet "$other" 2>/dev/null || true
  systemctl_target enable --quiet "${enable[@]}"
  if [ "$ROLE" = kiosk ]; then
    # The screen owns tty1: no login prompt there, not even when someone switches to it.
    systemctl_target mask --quiet getty@tty1.service
  elif [ -L "$(T /etc/systemd/system/getty@tty1.service)" ]; then
    systemctl_target unmask --quiet getty@tty1.service
  fi
  if [ -e "$(T /lib/systemd/system/pcscd.socket)" ] || [ -e "$(T /usr/lib/systemd/system/pcscd.socket)" ]; then
    systemctl_target enable --quiet pcscd.socket
  else
    note "warning: pcscd.socket not found: PC/SC readers need the pcscd package"
  fi
  note "enabled: ${enable[*]} ($ROLE station)"
  if [ "$before" != "$(enablement)" ]; then ENABLE_CHANGED=yes; fi
}

# [central_config] url as the current release's own loader reads the configuration (every layer, so
# a drop-in from Ansible counts), on the target; status 1 when the configuration does not load.
central_config_url() {
  local script='import sys
from kiosk.config import ConfigError, load_config
try:
    settings = load_config(sys.argv[1], environ={}).settings
except ConfigError as error:
    sys.exit("; ".join(error.problems[:2]))
print(settings.central_config.url)'
  if root_is_system; then
    on_target "$OPT/current/bin/python" -c "$script" "$ETC"
  else
    "$(T "$OPT/current/bin/python")" -c "$script" "$(T "$ETC")"
  fi
}

# The pull's timer is on exactly when there is something to pull; a configuration that does not load
# says nothing either way, so the timer stays as it was.
PULL_TIMER_CHANGED=no
enable_pull_timer() {
  local url before
  before=$(pull_timer_state)
  if ! url=$(central_config_url 2>/dev/null); then
    note "warning: $PULL_TIMER left $before: the configuration does not load:"
    note "  $(central_config_url 2>&1 >/dev/null || true)"
    return 0
  fi
  if [ -n "$url" ]; then
    systemctl_target enable --quiet "$PULL_TIMER"
    if live_systemd; then systemctl start "$PULL_TIMER"; fi
    note "enabled: $PULL_TIMER (central config from $url)"
  else
    systemctl_target disable --quiet "$PULL_TIMER" 2>/dev/null || true
    if live_systemd; then systemctl stop "$PULL_TIMER" || true; fi
    note "not enabled: $PULL_TIMER (no [central_config] url)"
  fi
  if [ "$before" != "$(pull_timer_state)" ]; then PULL_TIMER_CHANGED=yes; fi
}

pull_timer_state() {
  if [ -L "$(T "/etc/systemd/system/timers.target.wants/$PULL_TIMER")" ]; then echo enabled; else echo disabled; fi
}

# A station that changed role: the other role's service stops, this role's start.
switch_role_services() {
  if ! live_systemd || [ "$RESTART" = no ]; then return 0; fi
  systemctl stop "$OTHER_UNIT"
  # shellcheck disable=SC2046  # role_units is a list of unit names
  systemctl start $(role_units)
  note "stopped $OTHER_UNIT, started $(role_units)"
}

# ---------------------------------------------------------------------------------------------
# Releases

# The version in library_kiosk-<version>-<python tag>-<abi tag>-<platform tag>.whl (PEP 427), or
# status 1. The version names a directory that gets replaced: a PEP 440 shape only, never "..".
wheel_version() {
  local name
  name=$(basename "$1")
  [[ "$name" =~ ^library_kiosk-([0-9][0-9A-Za-z.+!_]*)-[^-]+-[^-]+-[^-]+\.whl$ ]] || return 1
  [[ "${BASH_REMATCH[1]}" != *..* ]] || return 1
  printf '%s' "${BASH_REMATCH[1]}"
}

release_link() {
  local target
  target=$(readlink "$(T "$OPT/$1")" 2>/dev/null) || return 0
  printf '%s' "${target#releases/}"
}
current_release() { release_link current; }
previous_release() { release_link previous; }
release_complete() { [ -f "$(T "$OPT/releases/$1/.kiosk-release")" ]; }

default_extras() {
  local extras=evdev,usb
  if grep -qs "Raspberry Pi" "$(T /proc/device-tree/model)" /proc/device-tree/model; then extras=$extras,pi; fi
  printf '%s' "$extras"
}

# Build /opt/kiosk/releases/$VERSION: venv, the wheel and its dependencies, then a check that the
# kiosk command starts. Only then is the release marked complete (.kiosk-release).
build_release() {
  local version=$1 sha=$2 rel=$OPT/releases/$1
  local wheel_name extras suffix="" py pip_args=()
  wheel_name=$(basename "$WHEEL")
  install -m 0644 -o 0 -g 0 "$WHEEL" "$(T "$OPT/wheels/$wheel_name")"
  rm -rf "$(T "$rel")"

  extras=$EXTRAS
  [ "$extras" = auto ] && extras=$(default_extras)
  if [ -n "$extras" ] && [ "$extras" != none ]; then suffix="[$extras]"; fi
  pip_args=(install --quiet --disable-pip-version-check)

  # The pinned dependency versions go into the release (it documents what was installed) and
  # constrain pip from there, a path that is the same inside a chroot.
  mkdir -p "$(T "$rel")"
  local lock=""
  case "$CONSTRAINTS" in
    none) ;;
    auto) [ -f "$SOURCE/requirements.lock" ] && lock=$SOURCE/requirements.lock ;;
    *) lock=$CONSTRAINTS ;;
  esac
  if [ -n "$lock" ]; then install -m 0644 -o 0 -g 0 "$lock" "$(T "$rel/requirements.lock")"; fi

  if root_is_system; then
    # Inside the root, so the venv's paths and its python are the target's own.
    if [ -n "$WHEELHOUSE" ]; then
      mkdir -p "$ROOT/run/kiosk-wheelhouse"
      mount --bind "$WHEELHOUSE" "$ROOT/run/kiosk-wheelhouse" && MOUNTS+=("$ROOT/run/kiosk-wheelhouse")
      pip_args+=(--no-index --find-links /run/kiosk-wheelhouse)
    fi
    if [ -n "$lock" ]; then pip_args+=(-c "$rel/requirements.lock"); fi
    py=${PYTHON:-/usr/bin/python3}
    log "building release $version in $ROOT (chroot, $py)"
    on_target "$py" -m venv "$rel"
    on_target "$rel/bin/python" -m pip "${pip_args[@]}" "$OPT/wheels/$wheel_name$suffix"
    on_target "$rel/bin/kiosk" --version >/dev/null
  else
    if [ -n "$WHEELHOUSE" ]; then pip_args+=(--no-index --find-links "$WHEELHOUSE"); fi
    if [ -n "$lock" ]; then pip_args+=(-c "$(T "$rel/requirements.lock")"); fi
    py=${PYTHON:-/usr/bin/python3}
    [ -x "$py" ] || py=$(command -v python3) || die "no python3 to build the venv with"
    if [ -n "$ROOT" ]; then
      log "building release $version at $ROOT$rel with this machine's $py (staged root without python3)"
    else
      log "building release $version ($py)"
    fi
    "$py" -m venv "$(T "$rel")"
    "$(T "$rel")/bin/python" -m pip "${pip_args[@]}" "$(T "$OPT/wheels/$wheel_name")$suffix"
    "$(T "$rel")/bin/kiosk" --version >/dev/null
  fi
  # The units and udev rules this release was installed with: a rollback puts them back with it.
  mkdir -p "$(T "$rel/deploy/systemd")" "$(T "$rel/deploy/udev")"
  install -m 0644 -o 0 -g 0 "$SOURCE"/systemd/*.service "$SOURCE"/systemd/*.timer "$(T "$rel/deploy/systemd")/"
  install -m 0644 -o 0 -g 0 "$HERE/udev/70-kiosk.rules" "$(T "$rel/deploy/udev")/"
  {
    echo "wheel=$wheel_name"
    echo "sha256=$sha"
    echo "extras=$extras"
    echo "constraints=${lock:+requirements.lock}"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } > "$(T "$rel/.kiosk-release")"
}

switch_to() {
  local version=$1 cur
  cur=$(current_release)
  [ "$cur" != "$version" ] || return 0
  if [ -n "$cur" ]; then
    ln -sfn "releases/$cur" "$(T "$OPT/previous.new")"
    mv -Tf "$(T "$OPT/previous.new")" "$(T "$OPT/previous")"
  fi
  # A new link renamed over the old one: the switch is atomic, never a moment without `current`.
  ln -sfn "releases/$version" "$(T "$OPT/current.new")"
  mv -Tf "$(T "$OPT/current.new")" "$(T "$OPT/current")"
}

link_commands() {
  local cmd
  mkdir -p "$(T /usr/local/bin)"
  for cmd in kiosk sip2; do
    ln -sfn "$OPT/current/bin/$cmd" "$(T "/usr/local/bin/$cmd")"
  done
}

# Release names, newest first by the time each was completed; incomplete ones last.
releases_newest_first() {
  local dir name
  for dir in "$(T "$OPT/releases")"/*/; do
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    if [ -f "$dir/.kiosk-release" ]; then
      printf '%s %s\n' "$(stat -c %Y "$dir/.kiosk-release")" "$name"
    else
      printf '0 %s\n' "$name"
    fi
  done | sort -k1,1nr -k2 | cut -d' ' -f2-
}

prune_releases() {
  local keep=$1 cur prev name kept=0
  cur=$(current_release); prev=$(previous_release)
  while read -r name; do
    [ -n "$name" ] || continue
    if [ "$name" = "$cur" ] || [ "$name" = "$prev" ]; then continue; fi
    if [ $kept -lt "$keep" ] && release_complete "$name"; then kept=$((kept + 1)); continue; fi
    rm -rf "$(T "$OPT/releases/$name")"
    note "removed old release $name"
  done < <(releases_newest_first)
  # Wheels of releases that are gone.
  local wheel version
  for wheel in "$(T "$OPT/wheels")"/*.whl; do
    [ -e "$wheel" ] || continue
    version=$(wheel_version "$wheel") || continue
    [ -d "$(T "$OPT/releases/$version")" ] || rm -f "$wheel"
  done
}

restart_services() {
  local reason=$1 unit units
  if ! live_systemd; then return 0; fi
  if [ "$RESTART" = no ]; then note "not restarting services (--no-restart)"; return 0; fi
  read -r -a units <<<"$(role_units)"
  for unit in "${units[@]}"; do
    if systemctl is-active --quiet "$unit"; then
      systemctl restart "$unit"
      note "restarted $unit ($reason)"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# Actions

do_list() {
  local cur prev name
  cur=$(current_release); prev=$(previous_release)
  [ -d "$(T "$OPT/releases")" ] || { echo "no releases in $(T "$OPT/releases")"; return 0; }
  for name in $(releases_newest_first); do
    local mark="  "
    [ "$name" = "$cur" ] && mark="* "
    [ "$name" = "$prev" ] && mark="- "
    release_complete "$name" || mark="! "
    echo "$mark$name"
  done
  echo "(* current, - previous: --rollback goes there, ! incomplete)"
}

do_rollback() {
  local cur prev
  cur=$(current_release); prev=$(previous_release)
  [ -n "$prev" ] || die "no previous release to roll back to (current: ${cur:-none})"
  release_complete "$prev" || die "previous release $prev is incomplete or gone; reinstall it with --wheel"
  log "rolling back from $cur to $prev"
  if [ -d "$(T "$OPT/releases/$prev/deploy/systemd")" ]; then
    install_units "$(T "$OPT/releases/$prev/deploy/systemd")"
    if install_file "$(T "$OPT/releases/$prev/deploy/udev/70-kiosk.rules")" "$UDEV_DIR/70-kiosk.rules" 0644; then
      UDEV_CHANGED=yes
      reload_udev
    fi
  fi
  switch_to "$prev"
  link_commands
  restart_services "rolled back to $prev"
  echo "kiosk-install: result=rolled-back current=$prev previous=$cur"
}

do_install() {
  [ -n "$WHEEL" ] || { usage >&2; die "--wheel is required to install or upgrade"; }
  [ -f "$WHEEL" ] || die "--wheel $WHEEL: no such file"
  [ -z "$WHEELHOUSE" ] || [ -d "$WHEELHOUSE" ] || die "--wheelhouse $WHEELHOUSE: no such directory"
  case "$CONSTRAINTS" in
    auto|none) ;;
    *) [ -f "$CONSTRAINTS" ] || die "--constraints $CONSTRAINTS: no such file"
       CONSTRAINTS=$(cd "$(dirname "$CONSTRAINTS")" && pwd)/$(basename "$CONSTRAINTS") ;;
  esac
  WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
  [ -z "$WHEELHOUSE" ] || WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
  local version sha cur result
  version=$(wheel_version "$WHEEL") || die "not a library_kiosk wheel with a usable version: $(basename "$WHEEL")"
  sha=$(sha256sum "$WHEEL" | cut -d' ' -f1)

  check_os
  chroot_mounts
  log "Debian packages"
  install_debian_packages
  log "user, groups and directories"
  ensure_user
  ensure_dirs

  cur=$(current_release)
  local built=no
  if [ "$REINSTALL" = yes ] || ! release_complete "$version"; then
    build_release "$version" "$sha"
    built=yes
  elif grep -qx "sha256=$sha" "$(T "$OPT/releases/$version/.kiosk-release")"; then
    note "release $version already built from this wheel"
  else
    die "release $version exists, built from another wheel: give the new build a new version, or pass --reinstall"
  fi

  log "configuration, udev rules, systemd units"
  install_config
  install_udev
  install_units
  switch_to "$version"
  link_commands
  enable_units
  enable_pull_timer
  prune_releases "$KEEP"

  if [ -z "$cur" ]; then
    result=installed
    if live_systemd; then
      note "first install: set up $ETC/kiosk.toml and $ETC/secrets.toml, check with 'kiosk config check',"
      note "then: systemctl start $(role_units)   (or reboot)"
    fi
  elif [ "$cur" != "$version" ]; then
    result=upgraded
    restart_services "now release $version"
  elif [ "$built" = yes ]; then
    result=reinstalled
    restart_services "release $version rebuilt"
  elif [ "$UNITS_CHANGED" = yes ] || [ "$ENABLE_CHANGED" = yes ] || [ "$PULL_TIMER_CHANGED" = yes ] \
      || [ "$CHANGED_FILES" -gt 0 ]; then
    result=changed
    if [ "$ENABLE_CHANGED" = yes ]; then switch_role_services; fi
    if [ "$UNITS_CHANGED" = yes ]; then restart_services "units changed"; fi
  else
    result=unchanged
  fi
  echo "kiosk-install: result=$result current=$version previous=$(previous_release)"
}

# One installer at a time (an Ansible run and a hand-run must not interleave).
mkdir -p "$(T "$OPT")"
exec 9>"$(T "$OPT/.install.lock")"
flock -n 9 || die "another install.sh is running on $(T "$OPT")"

case "$ACTION" in
  install) do_install ;;
  rollback) do_rollback ;;
  list) do_list ;;
esac
