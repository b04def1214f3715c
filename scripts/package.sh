#!/usr/bin/env bash
# Debian packages of functl, deployd and agentd, built from a staging tree with
# `dpkg-deb --build --root-owner-group` (no cargo-deb, no debhelper): binaries stripped,
# man pages and completions in their Debian places, the systemd units, the example configs
# in /etc/funai as conffiles, maintainer scripts from packaging/debian/.
#
#   scripts/package.sh [--profile release|debug] [--out DIR] [--no-build] [--lintian]
#
# Builds what it needs with cargo (a no-op when the binaries are up to date); --no-build
# packages the binaries already in the target directory. The .deb files land in DIR
# (default target/debian); the staging trees are temporary, under target/. Then lintian
# checks them when it is installed (--lintian: it must be; under CI as root it is
# installed here): an error or a warning fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(functl deployd agentd)
profile=release
out=
build=1
lintian=auto
usage() {
    echo "usage: scripts/package.sh [--profile release|debug] [--out DIR] [--no-build] [--lintian]" >&2
    exit 2
}
while (($#)); do
    case $1 in
        --profile)
            [[ ${2:-} == release || ${2:-} == debug ]] || usage
            profile=$2
            shift 2
            ;;
        --out)
            [[ -n ${2:-} ]] || usage
            out=$2
            shift 2
            ;;
        --no-build) build=0; shift ;;
        --lintian) lintian=required; shift ;;
        -h | --help) usage ;;
        *) echo "package.sh: unknown argument $1" >&2; usage ;;
    esac
done

log() { printf '== package: %s\n' "$*" >&2; }
die() { printf '== package: FAILED: %s\n' "$*" >&2; exit 1; }

# Under CI, as root, the tools are installed here; elsewhere a missing tool is named.
need() { # command debian-package
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ ${CI:-} == true && $(id -u) == 0 ]]; then
        log "installing $2"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || die "apt-get update"
        apt-get install -y -qq --no-install-recommends "$2" >/dev/null || die "apt-get install $2"
    else
        die "$1 is missing: apt-get install $2"
    fi
}
need dpkg-deb dpkg
need strip binutils
need jq jq

metadata=$(cargo metadata --format-version 1 --locked --filter-platform "$(rustc -vV | sed -n 's/^host: //p')")
target_dir=$(jq -r .target_directory <<<"$metadata")
version=$(jq -r '.packages[] | select(.name == "functl" and .source == null) | .version' <<<"$metadata")
bin_dir="$target_dir/$profile"
out=${out:-$target_dir/debian}
# A staging tree of its own per run: two runs at once (a person and the tests) never mix.
mkdir -p "$target_dir"
stage_root=$(mktemp -d "$target_dir/debian-stage.XXXXXX")
trap 'rm -rf "$stage_root"' EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The Debian revision and the date come from packaging/debian/changelog, whose newest
# entry must be this workspace version: a version bump needs its changelog entry.
changelog=packaging/debian/changelog
deb_version=$(sed -n '1s/^[a-z0-9.+-]* (\([^)]*\)).*/\1/p' "$changelog")
[[ ${deb_version%-*} == "$version" ]] ||
    die "packaging/debian/changelog starts at $deb_version but the workspace is $version: add an entry for $version-1"
arch=$(dpkg --print-architecture)
maintainer=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$changelog" | head -1)
# Reproducible: every file of the packages carries the time of the newest changelog entry.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$changelog" | head -1)" +%s)
export SOURCE_DATE_EPOCH

# The binaries of each package: every [[bin]] of its crate.
bins_of() { jq -r --arg p "$1" '.packages[] | select(.name == $p and .source == null) | .targets[] | select(.kind | index("bin")) | .name' <<<"$metadata"; }

if ((build)); then
    args=(build --locked --bins)
    [[ $profile == release ]] && args+=(--release)
    for p in "${PACKAGES[@]}"; do args+=(-p "$p"); done
    log "cargo ${args[*]}"
    cargo "${args[@]}"
fi

# The systemd unit directory of this Debian release (/lib before the /usr merge).
unit_dir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
if [[ -z $unit_dir ]]; then
    major=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 12)
    if [[ $major =~ ^[0-9]+$ ]] && ((major < 13)); then unit_dir=/lib/systemd/system; else unit_dir=/usr/lib/systemd/system; fi
fi

# The Rust crates linked into PACKAGE (normal dependencies, proc macros left out, the
# workspace's own crates left out), one "name version: license" a line, and the C
# libraries their -sys crates vendor.
linked_crates() {
    jq -r --arg name "$1" '
      (.packages | map({key: .id, value: .}) | from_entries) as $pkgs
      | (.resolve.nodes | map({key: .id, value: .}) | from_entries) as $nodes
      | ([.packages[] | select(.name == $name and .source == null) | .id][0]) as $root
      | {todo: [$root], seen: {}}
      | until(.todo == [];
          .todo[0] as $id | .todo |= .[1:]
          | if .seen[$id] then . else
              .seen[$id] = true
              | .todo += [$nodes[$id].deps[]
                  | select(any(.dep_kinds[]; .kind == null)) | .pkg
                  | select(any($pkgs[.].targets[]; .kind | index("proc-macro")) | not)]
            end)
      | [.seen | keys[] | $pkgs[.] | select(.source != null)]
      | sort_by(.name, .version)[]
      | "\(.name) \(.version): \(.license // "see the crate")"' <<<"$metadata"
}
vendored_c() { # crates needed-libs
    local crates=$1 needed=$2
    vendored() { # sys-crate soname line
        grep -q "^$1 " <<<"$crates" && ! grep -q "^$2" <<<"$needed" && echo "$3"
        return 0
    }
    vendored libgit2-sys libgit2.so "libgit2 (vendored by libgit2-sys): GPL-2.0 with the linking exception"
    vendored libssh2-sys libssh2.so "libssh2 (vendored by libssh2-sys): BSD-3-Clause"
    vendored openssl-sys libssl.so "OpenSSL (vendored by openssl-sys through openssl-src): Apache-2.0"
    vendored libsqlite3-sys libsqlite3.so "SQLite (bundled by libsqlite3-sys): public domain"
    vendored libz-sys libz.so "zlib (vendored by libz-sys): Zlib"
}

# Depends from the shared libraries the binaries link: dpkg-shlibdeps when dpkg-dev is
# installed, else the owning packages of what the ELF files name as NEEDED.
shlib_depends() { # binaries...
    if command -v dpkg-shlibdeps >/dev/null 2>&1; then
        local work="$stage_root/shlibdeps"
        rm -rf "$work" && mkdir -p "$work/debian"
        printf 'Source: funai\n\nPackage: funai\nArchitecture: any\n' >"$work/debian/control"
        (cd "$work" && dpkg-shlibdeps -O "$@") | sed -n 's/^shlibs:Depends=//p'
        return
    fi
    local libs pkgs=() glibc
    libs=$(for b in "$@"; do objdump -p "$b" | awk '$1 == "NEEDED" {print $2}'; done | sort -u)
    for lib in $libs; do
        local path owner
        if [[ $lib == ld-linux* ]]; then pkgs+=(libc6) && continue; fi
        path=$(for b in "$@"; do ldd "$b"; done | awk -v l="$lib" '$1 == l && !n++ {print $3}')
        [[ -n $path ]] || die "$lib is not found by ldd"
        # dpkg knows a library by the path its package ships (/lib before the /usr merge).
        owner=$({ dpkg -S "$path" || dpkg -S "$(readlink -f "$path")"; } 2>/dev/null | head -1 || true)
        [[ -n $owner ]] || die "no package owns $path"
        pkgs+=("${owner%%:*}")
    done
    glibc=$(for b in "$@"; do objdump -T "$b"; done | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
    printf '%s\n' "${pkgs[@]}" | sort -u | while read -r p; do
        if [[ $p == libc6 && -n $glibc ]]; then echo "libc6 (>= $glibc)"; else echo "$p"; fi
    done | paste -sd, | sed 's/,/, /g'
}

# One package: its files, then control data, then the .deb.
build_package() {
    local pkg=$1 stage="$stage_root/$1"
    rm -rf "$stage"
    mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/man/man1" "$stage/usr/share/doc/$pkg"

    local bins=() b
    mapfile -t bins < <(bins_of "$pkg")
    ((${#bins[@]})) || die "no binaries in crate $pkg"
    for b in "${bins[@]}"; do
        [[ -x $bin_dir/$b ]] || die "$bin_dir/$b is missing: build the $profile binaries first, or drop --no-build"
        install -m 0755 "$bin_dir/$b" "$stage/usr/bin/$b"
        # As dh_strip does for a package without a -dbgsym companion.
        strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$b"
    done

    # Man pages: each program's own and one per subcommand (functl-jobs-list.1, ...), as the
    # programs generate them into man/; a helper binary without one has its page here.
    local m
    for b in "${bins[@]}"; do
        if [[ -f man/$b.1 ]]; then
            for m in man/"$b".1 man/"$b"-*.1; do
                if [[ -f $m ]]; then gzip -9n <"$m" >"$stage/usr/share/man/man1/$(basename "$m").gz"; fi
            done
        elif [[ -f packaging/debian/$b.1 ]]; then
            gzip -9n <"packaging/debian/$b.1" >"$stage/usr/share/man/man1/$b.1.gz"
        else
            die "no man page for $b: man/$b.1 (cargo run -q -p functl -- generate-docs --root .) or packaging/debian/$b.1"
        fi
    done

    local conffiles=() secret=()
    case $pkg in
        functl)
            install -D -m 0644 completions/functl.bash "$stage/usr/share/bash-completion/completions/functl"
            install -D -m 0644 completions/_functl "$stage/usr/share/zsh/vendor-completions/_functl"
            install -D -m 0644 completions/functl.fish "$stage/usr/share/fish/vendor_completions.d/functl.fish"
            # functl reads ~/.config/functl/config.toml, never /etc: its example is documentation.
            install -D -m 0644 packaging/config/functl.toml "$stage/usr/share/doc/functl/examples/config.toml"
            install -D -m 0644 packaging/config/topology.toml "$stage/usr/share/doc/functl/examples/topology.toml"
            ;;
        deployd)
            conffiles=(/etc/funai/deployd.toml)
            secret=(/etc/funai/deployd.toml)
            install -D -m 0644 packaging/config/deployd.toml "$stage/etc/funai/deployd.toml"
            ;;
        agentd)
            conffiles=(/etc/funai/agentd-runner.toml /etc/funai/agentd-runtime.toml /etc/funai/topology.toml)
            secret=(/etc/funai/agentd-runner.toml /etc/funai/agentd-runtime.toml)
            local c
            for c in agentd-runner agentd-runtime topology; do
                install -D -m 0644 "packaging/config/$c.toml" "$stage/etc/funai/$c.toml"
            done
            ;;
    esac

    local unit=
    if [[ -f packaging/systemd/$pkg.service ]]; then
        unit=$pkg.service
        install -D -m 0644 "packaging/systemd/$unit" "$stage$unit_dir/$unit"
    fi

    # Documentation: copyright with the linked crates, the Debian changelog.
    local crates needed
    crates=$(linked_crates "$pkg")
    needed=$(for b in "${bins[@]}"; do objdump -p "$stage/usr/bin/$b" | awk '$1 == "NEEDED" {print $2}'; done | sort -u)
    {
        sed '/^$/q' packaging/debian/copyright | sed '$d'
        printf ' .\n Linked into %s:\n' "$pkg"
        { vendored_c "$crates" "$needed"; echo "$crates"; } | sed 's/^/ /'
        echo
        sed '1,/^$/d' packaging/debian/copyright
    } >"$stage/usr/share/doc/$pkg/copyright"
    gzip -9n <"$changelog" >"$stage/usr/share/doc/$pkg/changelog.Debian.gz"
    if [[ -f packaging/debian/$pkg.lintian-overrides ]]; then
        install -D -m 0644 "packaging/debian/$pkg.lintian-overrides" "$stage/usr/share/lintian/overrides/$pkg"
    fi

    # Control data.
    if ((${#conffiles[@]})); then printf '%s\n' "${conffiles[@]}" >"$stage/DEBIAN/conffiles"; fi
    if [[ -n $unit ]]; then
        local script
        for script in postinst prerm postrm; do
            sed -e "s|@PACKAGE@|$pkg|g" -e "s|@UNIT@|$unit|g" -e "s|@SECRET_CONFIGS@|${secret[*]}|g" \
                "packaging/debian/daemon.$script.in" >"$stage/DEBIAN/$script"
            chmod 0755 "$stage/DEBIAN/$script"
        done
    fi
    local depends
    depends=$(shlib_depends "${bins[@]/#/$stage/usr/bin/}")
    [[ -n $depends ]] || die "no Depends computed for $pkg"
    (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
    local size
    size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    sed -e "s|@VERSION@|$deb_version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
        -e "s|@INSTALLED_SIZE@|$size|" -e "s|@DEPENDS@|$depends|" \
        "packaging/debian/$pkg.control" >"$stage/DEBIAN/control"

    # Directories 0755 (files got their modes above), one timestamp for all.
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local deb="$out/${pkg}_${deb_version}_${arch}.deb"
    # xz takes half a minute a package on the big debug binaries: those (for the tests) get gzip -1.
    local compress=(-Zxz)
    [[ $profile == debug ]] && compress=(-Zgzip -z1)
    dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null
    log "$deb ($(du -h "$deb" | cut -f1))"
    debs+=("$deb")
}

debs=()
for p in "${PACKAGES[@]}"; do build_package "$p"; done

if [[ $lintian == required ]] || command -v lintian >/dev/null 2>&1 || [[ ${CI:-} == true && $(id -u) == 0 ]]; then
    need lintian lintian
    log "lintian"
    # Informational tags are shown, not counted; what remains of the rest is overridden in
    # packaging/debian/PACKAGE.lintian-overrides, each with its reason.
    lintian --fail-on error,warning --display-info "${debs[@]}" ||
        die "lintian found errors or warnings (above): fix them, or override one with its reason in packaging/debian/PACKAGE.lintian-overrides"
else
    log "lintian is not installed: the packages are not checked (apt-get install lintian)"
fi
