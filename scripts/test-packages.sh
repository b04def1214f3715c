#!/usr/bin/env bash
# The Debian packages, end to end, on this machine: built from the debug binaries (what
# `cargo test` already built), checked with lintian, installed with dpkg -i, used, then
# removed and purged without leaving a file behind. Run by scripts/test.sh after
# `cargo test`; runs alone too. Needs root (it installs into /); without root, and outside
# CI, it says it skipped (exit 77). Under CI=true nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(functl deployd agentd)
log() { printf '== packages: %s\n' "$*" >&2; }
fail() { printf '== packages: FAILED: %s\n' "$*" >&2; exit 1; }
skip() {
    [[ ${CI:-} == true ]] && fail "$* (CI=true: not skipped)"
    printf '== packages: SKIPPED: %s\n' "$*" >&2
    exit 77
}

[[ $(id -u) == 0 ]] || skip "installing packages needs root"
for p in "${PACKAGES[@]}"; do
    # Never replace (and then purge) what someone installed on this machine.
    status=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ -z $status || $status == not-installed ]] || skip "package $p is already on this machine ($status)"
done

apt_install() {
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || fail "apt-get update"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
}
apt_install lintian man-db jq binutils dpkg-dev

work=$(mktemp -d /tmp/funai-test-packages.XXXXXX)
user_before=$(getent passwd funai || true)
etc_before=$([[ -e /etc/funai ]] && echo yes || true)
installed=0
cleanup() {
    if ((installed)); then dpkg -P "${PACKAGES[@]}" >/dev/null 2>&1 || true; fi
    # The user stays on purge by design; the one this run created goes with the run.
    if [[ -z $user_before ]] && getent passwd funai >/dev/null; then
        userdel funai 2>/dev/null || true
        groupdel funai 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The debug binaries exactly as `cargo test --workspace --all-targets` builds them: a no-op
# after scripts/test.sh's cargo test (a narrower cargo build would unify other features
# and rebuild every dependency).
log "cargo test --no-run (the debug binaries)"
cargo test --workspace --all-targets --locked --no-run -q || fail "the debug binaries did not build (above)"
log "scripts/package.sh --profile debug --no-build --lintian"
scripts/package.sh --profile debug --no-build --lintian --out "$work/debs" ||
    fail "scripts/package.sh (above): the packages were not built, or lintian found errors or warnings"
debs=()
for p in "${PACKAGES[@]}"; do
    f=("$work"/debs/"${p}"_*.deb)
    [[ -f ${f[0]} ]] || fail "package.sh made no $p package"
    debs+=("${f[0]}")
done

# What of the packages' paths is on the machine before the install (/, /usr/bin, /lib
# which may be a symlink): only those may be there after the purge.
for deb in "${debs[@]}"; do dpkg-deb --fsys-tarfile "$deb" | tar -t; done |
    sed 's|^\./|/|; s|/$||' | sort -u | while read -r path; do
    [[ -n $path ]] && [[ -e $path || -L $path ]] && echo "$path"
done >"$work/before" || true

# The man pages must land even where dpkg is told to skip documentation (slim images).
dpkg_i=(dpkg -i --path-include='/usr/share/man/man1/*' --path-include='/usr/share/doc/*')
log "dpkg -i"
installed=1
"${dpkg_i[@]}" "${debs[@]}" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log" >&2; fail "dpkg -i"; }
log "dpkg -i again (maintainer scripts are idempotent)"
"${dpkg_i[@]}" "${debs[@]}" >"$work/dpkg-i2.log" 2>&1 || { cat "$work/dpkg-i2.log" >&2; fail "dpkg -i over the installed packages"; }

log "installed files"
version=$(/usr/bin/functl --version) || fail "/usr/bin/functl --version exited $?"
[[ $version == functl\ * ]] || fail "/usr/bin/functl --version printed: $version"
for b in deployd agentd; do
    /usr/bin/$b --version >/dev/null || fail "/usr/bin/$b --version"
done
unit_dir=
for d in /lib/systemd/system /usr/lib/systemd/system; do
    [[ -f $d/deployd.service ]] && unit_dir=$d
done
[[ -n $unit_dir ]] || fail "deployd.service is in neither /lib/systemd/system nor /usr/lib/systemd/system"
[[ -f $unit_dir/agentd.service ]] || fail "agentd.service is not in $unit_dir"
grep -qx 'ExecStart=/usr/bin/deployd .*' "$unit_dir/deployd.service" || fail "deployd.service does not start /usr/bin/deployd"
grep -qx 'ExecStart=/usr/bin/agentd .*' "$unit_dir/agentd.service" || fail "agentd.service does not start /usr/bin/agentd"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit_dir/deployd.service" "$unit_dir/agentd.service" ||
        fail "systemd-analyze verify found faults in the installed units (above)"
else
    log "systemd-analyze is not installed: the units' syntax is not verified"
fi
# Enabled, not started: the symlinks exist even without a running systemd.
for u in deployd agentd; do
    [[ -L /etc/systemd/system/multi-user.target.wants/$u.service ]] || fail "$u.service is not enabled"
    if [[ -d /run/systemd/system ]]; then
        ! systemctl is-active --quiet "$u.service" || fail "$u.service was started by the install"
    fi
done
getent passwd funai >/dev/null || fail "no funai user after install"
[[ $(getent passwd funai | cut -d: -f7) == */nologin ]] || fail "funai has a login shell"
(($(id -u funai) < 1000)) || fail "funai is not a system user (uid $(id -u funai))"
for c in deployd.toml agentd-runner.toml agentd-runtime.toml topology.toml; do
    [[ -f /etc/funai/$c ]] || fail "/etc/funai/$c is missing"
    dpkg-query --showformat='${Conffiles}\n' -W deployd agentd | grep -q " /etc/funai/$c " ||
        fail "/etc/funai/$c is not a conffile"
done
for c in deployd.toml agentd-runner.toml agentd-runtime.toml; do
    [[ $(stat -c '%U:%G %a' "/etc/funai/$c") == 'root:funai 640' ]] ||
        fail "/etc/funai/$c holds secrets but is $(stat -c '%U:%G %a' "/etc/funai/$c")"
done
[[ $(stat -c %a /etc/funai/topology.toml) == 644 ]] || fail "/etc/funai/topology.toml is not 0644"
# The daemons' user reads their configs; another user does not.
runuser -u funai -- /usr/bin/deployd --config /etc/funai/deployd.toml print-config >/dev/null ||
    fail "deployd running as funai cannot read /etc/funai/deployd.toml"
runuser -u funai -- /usr/bin/agentd --config /etc/funai/agentd-runtime.toml print-config >/dev/null ||
    fail "agentd running as funai cannot read /etc/funai/agentd-runtime.toml"
! runuser -u nobody -- cat /etc/funai/deployd.toml >/dev/null 2>&1 || fail "user nobody can read /etc/funai/deployd.toml"
# The daemon refuses the example config as packaged, with the reason.
if out=$(/usr/bin/deployd --config /etc/funai/deployd.toml --database-url sqlite::memory: --listen 127.0.0.1:0 serve 2>&1); then
    fail "deployd served on the placeholder secrets"
fi
grep -q 'CHANGE_ME' <<<"$out" || fail "deployd did not name the placeholders: $out"
page=$(man -w functl) || fail "man -w functl found no page"
[[ $page == /usr/share/man/man1/functl.1.gz ]] || fail "man -w functl: $page"
man -w functl-jobs-list >/dev/null || fail "man -w functl-jobs-list found no page"
man -w deployd >/dev/null && man -w agentd >/dev/null || fail "man -w deployd/agentd found no page"
for f in /usr/share/bash-completion/completions/functl /usr/share/zsh/vendor-completions/_functl \
    /usr/share/fish/vendor_completions.d/functl.fish; do
    [[ -s $f ]] || fail "$f is missing"
done
bash -c 'source /usr/share/bash-completion/completions/functl && complete -p functl' >/dev/null ||
    fail "the bash completion does not register for functl"

log "dpkg -r, then dpkg -P"
dpkg-query -L "${PACKAGES[@]}" | sort -u >"$work/files"
dpkg -r "${PACKAGES[@]}" >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log" >&2; fail "dpkg -r"; }
[[ ! -e /usr/bin/functl && ! -e /usr/bin/deployd && ! -e /usr/bin/agentd ]] || fail "a binary is left after dpkg -r"
[[ -f /etc/funai/deployd.toml ]] || fail "dpkg -r removed the conffile /etc/funai/deployd.toml (only purge should)"
dpkg -P "${PACKAGES[@]}" >"$work/dpkg-p.log" 2>&1 || { cat "$work/dpkg-p.log" >&2; fail "dpkg -P"; }
installed=0

# Every path the packages held is gone, but for the directories that were there before.
left=()
while read -r path; do
    [[ $path != /. ]] && [[ -e $path || -L $path ]] || continue
    [[ -d $path ]] && grep -qxF "$path" "$work/before" && continue
    left+=("$path")
done <"$work/files"
((${#left[@]} == 0)) || fail "left behind after dpkg -P: ${left[*]}"
if [[ -z $etc_before && -e /etc/funai ]]; then fail "/etc/funai is left after dpkg -P: $(ls -A /etc/funai)"; fi
for u in deployd agentd; do
    if compgen -G "/etc/systemd/system/*/$u.service" >/dev/null || [[ -e /etc/systemd/system/$u.service || -L /etc/systemd/system/$u.service ]]; then
        fail "$u.service is still enabled or masked after dpkg -P"
    fi
done
! dpkg-statoverride --list | grep -q ' /etc/funai/' || fail "a statoverride under /etc/funai is left after dpkg -P"
getent passwd funai >/dev/null || fail "dpkg -P removed the funai user (it should stay)"

log "ok: built, lintian-clean, installed, used, removed and purged"
