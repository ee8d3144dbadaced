#!/usr/bin/env bash
# Builds a small root filesystem for the FRR routers and PCs of this example
# from Debian's packages: frr and what its programs link against, bash (which
# FRR's scripts need), iproute2, and busybox for a shell and ping. Only the
# shared libraries the programs need are followed, so maintainer-script
# dependencies (adduser, logrotate, systemd...) stay out.
#
# usage: build-rootfs.sh DIR   (as root on Debian; DIR must not exist)
set -euo pipefail
dir=${1:?usage: build-rootfs.sh DIR}
[ ! -e "$dir" ] || { echo "$dir exists" >&2; exit 1; }

debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
want="frr bash coreutils iproute2 iputils-ping busybox-static libc6 libpam-modules"
have=""
# Follow Depends, but only into libraries: a fixed point over lib* packages.
while [ -n "$want" ]; do
	next=""
	for p in $want; do
		case " $have " in *" $p "*) continue ;; esac
		have="$have $p"
		for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances --no-pre-depends "$p" |
			awk '$1 == "Depends:" && $2 ~ /^(lib|zlib)/ { print $2 }'); do
			next="$next $d"
		done
	done
	want=$next
done
(cd "$debs" && apt-get download -q $have >/dev/null)
mkdir -p "$dir"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$dir"; done
rm -rf "$dir"/usr/share/{doc,man,info,locale} "$dir"/usr/share/lintian

# Debian 12 packages install into /bin, /lib... or /usr/...; merge as Debian does.
for l in bin sbin lib lib64; do
	if [ -d "$dir/$l" ] && [ ! -L "$dir/$l" ]; then
		mkdir -p "$dir/usr/$l"
		cp -a "$dir/$l/." "$dir/usr/$l/"
		rm -rf "${dir:?}/$l"
	fi
	[ -e "$dir/usr/$l" ] && ln -sfn "usr/$l" "$dir/$l"
done

# busybox fills in what the packages above lack (sleep is coreutils', ping
# iputils'); an applet never replaces a packaged program.
for a in $("$dir/usr/bin/busybox" --list); do
	[ -e "$dir/usr/bin/$a" ] || [ -e "$dir/usr/sbin/$a" ] || ln -s busybox "$dir/usr/bin/$a"
done
ln -sfn bash "$dir/usr/bin/sh"

# What adduser and FRR's maintainer scripts would have made.
mkdir -p "$dir/etc" "$dir/var/run/frr" "$dir/var/log/frr" "$dir/var/lib/frr" "$dir/tmp" "$dir/var/tmp" "$dir/root"
chmod 1777 "$dir/tmp" "$dir/var/tmp"
# vtysh asks PAM; the package's file covers auth, and without
# libpam-runtime's common files account checks would fail.
echo "account	sufficient	pam_permit.so" >>"$dir/etc/pam.d/frr"
cat >"$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/bash
frr:x:100:101:Frr routing suite:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
P
cat >"$dir/etc/group" <<'G'
root:x:0:
frrvty:x:102:frr
frr:x:101:
nogroup:x:65534:
G
chown -R 100:101 "$dir/etc/frr" "$dir/var/run/frr" "$dir/var/log/frr" "$dir/var/lib/frr"
echo "built $dir from:$have"
