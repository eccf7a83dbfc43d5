#!/usr/bin/env bash
# Makes the root file system of Baton's container image when it is built FROM scratch: a Java runtime
# cut to the modules Baton uses (jlink), the shared libraries that runtime and the native code in
# Baton's jars load (found with ldd, taken from this machine), the user baton (uid 10001 in group 0,
# which may write the volume's directory: see the pom) and /tmp.
# Jib adds it to the image as an extra directory (the volume's directory comes from the pom).
#
#   make-rootfs.sh OUT JAVA_HOME CLASSPATH
#
# OUT is made again only when what it is made from changed (this script, the JDK, the jars' native
# libraries): a second `mvn package` skips it.
set -euo pipefail

out=$1 java_home=$2 classpath=$3
# Found with jdeps and by starting a node: java.sql for SOFAJRaft's Hessian serializer and
# protobuf-java-util, jdk.management for the JVM metrics, java.naming for DNS, jdk.crypto.ec for TLS.
modules=java.base,java.logging,java.management,jdk.management,java.naming,java.sql,jdk.unsupported,jdk.crypto.ec
runtime=/opt/java/openjdk # where the Eclipse Temurin images have it, so one PATH fits both bases
uid=10001

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The native libraries inside the jars, extracted to look at what they link to.
natives=()
IFS=: read -r -a jars <<< "$classpath"
for jar in "${jars[@]}"; do
  [[ $jar == *.jar && -f $jar ]] || continue
  # Entry names are stored as they are: a jar without ".so" in its bytes has no native library,
  # and is not listed (a JVM start per jar).
  LC_ALL=C grep -qaF '.so' "$jar" || continue
  mapfile -t entries < <("$java_home/bin/jar" tf "$jar" | grep -E '\.so$' | grep -v musl || true)
  if ((${#entries[@]} > 0)); then
    dir="$work/natives/$(basename "$jar")"
    mkdir -p "$dir"
    (cd "$dir" && "$java_home/bin/jar" xf "$jar" "${entries[@]}")
    for e in "${entries[@]}"; do natives+=("$dir/$e"); done
  fi
done

stamp="$(sha256sum "$0" | cut -d' ' -f1) $("$java_home/bin/java" -version 2>&1 | tr '\n' ' ')
$modules $(cat "${natives[@]}" /dev/null | sha256sum | cut -d' ' -f1)"
if [[ -f $out.stamp && "$(cat "$out.stamp")" == "$stamp" && -d $out ]]; then
  echo "make-rootfs: $out is up to date"
  exit 0
fi
rm -rf "$out" "$out.stamp"
mkdir -p "$out"

"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --compress=2 --output "$out$runtime"

# Every ELF file of the runtime and of the jars, then every library they need, copied as a regular
# file where the dynamic loader looks for it (Jib keeps no symbolic links): the loader at the path
# compiled into the programs, the others in the directory of their real file under their soname.
elves=("$out$runtime/bin/java")
while IFS= read -r -d '' so; do elves+=("$so"); done < <(find "$out$runtime/lib" -name '*.so' -print0)
declare -A copied=()
for elf in "${elves[@]}" "${natives[@]}"; do
  # ldd says "not a dynamic executable" for another processor's library: those are not loaded here.
  lines=$(ldd "$elf" 2>/dev/null) || continue
  while read -r line; do
    # libjvm.so is loaded by the launcher before the runtime's other libraries, which do not say where it is.
    if [[ $line == *"not found"* && $line != libjvm.so* ]]; then
      echo "make-rootfs: $elf needs a library this machine lacks: $line" >&2
      exit 1
    fi
    if [[ $line =~ ^([^[:space:]]+)\ =\>\ (/[^[:space:]]+) ]]; then
      name=${BASH_REMATCH[1]} path=${BASH_REMATCH[2]}
      [[ $path == "$out"* ]] && continue # the runtime's own libraries (libjvm.so, libjava.so ...)
      target="$(dirname "$(realpath "$path")")/$name"
    elif [[ $line =~ ^(/[^[:space:]]+)\ \( ]]; then
      target=${BASH_REMATCH[1]} path=${BASH_REMATCH[1]} # the dynamic loader
    else
      continue # linux-vdso: provided by the kernel
    fi
    if [[ -z ${copied[$target]:-} ]]; then
      mkdir -p "$out$(dirname "$target")"
      cp -L "$path" "$out$target"
      copied[$target]=1
    fi
  done <<< "$lines"
done

mkdir -p "$out/etc" "$out/tmp"
cat > "$out/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
baton:x:$uid:0:Baton:/var/lib/baton:/sbin/nologin
PASSWD
cat > "$out/etc/group" <<GROUP
root:x:0:
baton:x:$uid:
GROUP
# No shadow passwords, no shell: nobody logs in. Name lookups go to /etc/hosts (written by the
# container engine), then DNS.
echo 'hosts: files dns' > "$out/etc/nsswitch.conf"

printf '%s\n' "$stamp" > "$out.stamp"
echo "make-rootfs: $out ($(du -sh "$out" | cut -f1); libraries: ${!copied[*]})"
