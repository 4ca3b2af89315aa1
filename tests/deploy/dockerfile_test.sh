#!/usr/bin/env bash
# Offline checks of deploy/Dockerfile and .dockerignore (no container engine needed):
#   (a) the runtime stage installs every Debian package that owns a shared library the built
#       bench-controller, bench-worker and bench-sim load (ldd, then dpkg -S);
#   (b) policy: every FROM pins a tag that is not "latest", the final stage runs as a numeric
#       non-root USER, no ADD of URLs, apt lists removed in the runtime stage's apt RUNs,
#       COPY --from=build of the three binaries into /usr/local/bin;
#   (c) .dockerignore keeps build trees (and .git, results, node_modules) out of the context;
#   (d) the mapping is right: `dpkg -L PKG` lists the soname path of every library mapped to it.
# usage: dockerfile_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
dockerfile="$source_dir/deploy/Dockerfile"
dockerignore="$source_dir/.dockerignore"

failures=()
fail() { failures+=("$*"); echo "FAIL: $*"; }
ok() { echo "ok:   $*"; }

for tool in ldd dpkg dpkg-query readlink; do
  command -v "$tool" >/dev/null || { echo "dockerfile_test: $tool not found" >&2; exit 1; }
done
[ -f "$dockerfile" ] || { echo "dockerfile_test: no $dockerfile" >&2; exit 1; }

binaries=(controller/bench-controller worker/bench-worker sim/bench-sim)

# ---------------------------------------------------------------------------------------------
# Dockerfile parsing: logical instructions (continuations joined, comment lines dropped, as
# Docker does even inside a continued instruction), each with its stage index.
instr=()        # "KEYWORD args..."
instr_stage=()  # stage index of each instruction (-1: before the first FROM)
stage_names=()  # lower-case name per stage ("" if unnamed)
stage=-1
current=""
flush() {
  local line=$1 kw
  [ -n "${line//[[:space:]]/}" ] || return 0
  line="${line#"${line%%[![:space:]]*}"}"
  kw=${line%%[[:space:]]*}
  kw=${kw^^}
  if [ "$kw" = FROM ]; then
    stage=$((stage + 1))
    local name=""
    if [[ "$line" =~ [[:space:]][Aa][Ss][[:space:]]+([^[:space:]]+)[[:space:]]*$ ]]; then
      name=${BASH_REMATCH[1],,}
    fi
    stage_names+=("$name")
  fi
  instr+=("$kw ${line#*[[:space:]]}")
  instr_stage+=("$stage")
}
while IFS= read -r raw || [ -n "$raw" ]; do
  raw=${raw%$'\r'}
  if [[ "$raw" =~ ^[[:space:]]*# ]]; then continue; fi
  if [[ "$raw" =~ ^(.*)\\[[:space:]]*$ ]]; then
    current+="${BASH_REMATCH[1]} "
    continue
  fi
  current+="$raw"
  flush "$current"
  current=""
done < "$dockerfile"
flush "$current"

is_instr() {  # is_instr I STAGE KEYWORD: instruction I is a KEYWORD of stage STAGE
  [ "${instr_stage[$1]}" -eq "$2" ] && [[ "${instr[$1]}" == "$3 "* ]]
}

n_stages=${#stage_names[@]}
final_stage=$((n_stages - 1))
runtime_stage=-1
for i in "${!stage_names[@]}"; do
  [ "${stage_names[$i]}" = runtime ] && runtime_stage=$i
done
if [ "$runtime_stage" -lt 0 ]; then
  echo "dockerfile_test: no 'FROM ... AS runtime' stage in $dockerfile" >&2
  exit 1
fi
[ "$runtime_stage" -eq "$final_stage" ] || fail "the runtime stage is not the final stage"

# The packages are computed from binaries built on this machine: meaningful for the image only
# when this machine runs the Debian release of the runtime stage's base (same package names and
# sonames).
runtime_from=""
for i in "${!instr[@]}"; do
  if is_instr "$i" "$runtime_stage" FROM; then runtime_from=${instr[$i]#FROM }; fi
done
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"' || true)
if [ -z "$codename" ] || [[ "$runtime_from" != *"$codename"* ]]; then
  fail "this machine is Debian '${codename:-unknown}' but the runtime stage is FROM" \
    "${runtime_from%% *}: build and test on the image's release, or the package names differ"
else
  echo "this machine: Debian $codename, as the runtime stage (FROM ${runtime_from%% *})"
fi

# Global ARG defaults (before the first FROM), for FROM lines that use them.
declare -A global_args=()
for i in "${!instr[@]}"; do
  [ "${instr_stage[$i]}" -lt 0 ] || break
  if [[ "${instr[$i]}" =~ ^ARG[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)=([^[:space:]]*) ]]; then
    global_args[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]//\"/}
  fi
done

# Package names installed by `apt-get install` in the RUN instructions of a stage.
apt_packages_of_stage() {
  local s=$1 i cmd seg tokens t skip
  for i in "${!instr[@]}"; do
    is_instr "$i" "$s" RUN || continue
    cmd=${instr[$i]#RUN }
    # split into simple commands on && || ; |
    cmd=${cmd//&&/$'\n'}
    cmd=${cmd//||/$'\n'}
    cmd=${cmd//;/$'\n'}
    cmd=${cmd//|/$'\n'}
    while IFS= read -r seg; do
      read -ra tokens <<< "$seg"
      local found_apt=false found_install=false
      skip=false
      for t in "${tokens[@]}"; do
        if $found_install; then
          if $skip; then skip=false; continue; fi
          case "$t" in
            -o|-c|-t|--target-release|--option|--config-file) skip=true ;;
            -*) ;;
            '>'*|'2>'*|'<'*|'&>'*) break ;;
            *) t=${t%%=*}; t=${t%%:*}; t=${t//[\"\']/}; echo "$t" ;;
          esac
        elif $found_apt; then
          [ "$t" = install ] && found_install=true
        else
          case "$t" in apt-get|apt|*/apt-get|*/apt) found_apt=true ;; esac
        fi
      done
    done <<< "$cmd"
  done
}

# ---------------------------------------------------------------------------------------------
# (a) the package set of the binaries' libraries: ldd, then dpkg -S on each path, trying the
# path ldd resolved, its merged-/usr twin (/lib <-> /usr/lib) and the same for its realpath.
echo "== (a) runtime packages from ldd + dpkg -S"
usr_twin() { case "$1" in /usr/*) echo "${1#/usr}" ;; *) echo "/usr$1" ;; esac; }

sanitized=false
if grep -Eq '^BENCH_(SANITIZE|FUZZ):BOOL=(ON|TRUE|1)$' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  sanitized=true
fi

declare -A lib_users=()   # library path as ldd gives it -> binaries that load it
for b in "${binaries[@]}"; do
  bin="$build_dir/$b"
  if [ ! -x "$bin" ]; then
    fail "$bin: not built (build bench-controller bench-worker bench-sim first)"
    continue
  fi
  out=$(ldd "$bin" 2>&1) || { fail "ldd $bin failed: $out"; continue; }
  if grep -q 'not a dynamic executable' <<< "$out"; then continue; fi
  while IFS= read -r line; do
    if [[ "$line" =~ ^[[:space:]]*([^[:space:]]+)[[:space:]]+=\>[[:space:]]+not\ found ]]; then
      fail "$(basename "$b") needs ${BASH_REMATCH[1]}, which ldd cannot find on this machine"
    elif [[ "$line" =~ =\>[[:space:]]+(/[^[:space:]]+)[[:space:]]+\( ]]; then
      lib_users[${BASH_REMATCH[1]}]+="$(basename "$b") "
    elif [[ "$line" =~ ^[[:space:]]*(/[^[:space:]]+)[[:space:]]+\( ]]; then
      lib_users[${BASH_REMATCH[1]}]+="$(basename "$b") "   # the dynamic loader
    fi
  done <<< "$out"
done

declare -A lib_candidates=()
all_candidates=()
for lib in "${!lib_users[@]}"; do
  real=$(readlink -f "$lib")
  cands=("$lib" "$(usr_twin "$lib")")
  if [ "$real" != "$lib" ]; then cands+=("$real" "$(usr_twin "$real")"); fi
  lib_candidates[$lib]="${cands[*]}"
  all_candidates+=("${cands[@]}")
done

# One dpkg -S for every candidate path (exit 1 when some candidates are not in any package).
declare -A path_pkg=()
if [ "${#all_candidates[@]}" -gt 0 ]; then
  while IFS= read -r line; do
    [[ "$line" == *": /"* ]] || continue
    [[ "$line" == diversion\ by* ]] && continue
    pkgs=${line%%: /*}
    path=/${line#*: /}
    pkg=${pkgs%%,*}          # "a, b: path" (shared by several): the first owns it too
    path_pkg[$path]=${pkg%%:*}
  done < <(dpkg -S "${all_candidates[@]}" 2>/dev/null || true)
fi

declare -A lib_pkg=()
declare -A required=()
for lib in $(printf '%s\n' "${!lib_users[@]}" | sort); do
  pkg=""
  for c in ${lib_candidates[$lib]}; do
    if [ -n "${path_pkg[$c]:-}" ]; then pkg=${path_pkg[$c]}; break; fi
  done
  if [ -z "$pkg" ]; then
    fail "$lib (loaded by ${lib_users[$lib]% }) belongs to no Debian package" \
      "(dpkg -S finds none of: ${lib_candidates[$lib]}): a library installed outside dpkg" \
      "cannot be installed in the image by apt-get; package it or build it into the binaries"
    continue
  fi
  if $sanitized && [[ "$pkg" =~ ^lib(a|ub|t|l|hwa)san[0-9]+$ ]]; then
    echo "note: $lib ($pkg) is a sanitizer runtime of this BENCH_SANITIZE/BENCH_FUZZ build;" \
      "the image builds without sanitizers"
    continue
  fi
  lib_pkg[$lib]=$pkg
  required[$pkg]+="$(basename "$lib") "
done

mapfile -t runtime_pkgs < <(apt_packages_of_stage "$runtime_stage" | sort -u)
declare -A in_dockerfile=()
for p in "${runtime_pkgs[@]}"; do in_dockerfile[$p]=1; done
if [ "${#runtime_pkgs[@]}" -eq 0 ]; then
  fail "found no apt-get install in the runtime stage of $dockerfile"
fi

echo "${#lib_pkg[@]} libraries of ${binaries[*]##*/} in ${#required[@]} packages:"
missing=()
for p in $(printf '%s\n' "${!required[@]}" | sort); do
  read -ra libs <<< "${required[$p]}"
  mark="installed"
  if [ -z "${in_dockerfile[$p]:-}" ]; then mark="MISSING"; missing+=("$p"); fi
  if [ "${#libs[@]}" -gt 3 ]; then
    shown="${libs[0]} ${libs[1]} ... (${#libs[@]} libraries)"
  else
    shown="${libs[*]}"
  fi
  printf '  %-28s %-9s %s\n' "$p" "$mark" "$shown"
done
if [ "${#missing[@]}" -gt 0 ]; then
  fail "the runtime stage's apt-get install lacks: ${missing[*]}"
else
  ok "runtime stage installs all ${#required[@]} packages"
fi
extra=()
for p in "${runtime_pkgs[@]}"; do [ -n "${required[$p]:-}" ] || extra+=("$p"); done
[ "${#extra[@]}" -eq 0 ] || echo "  also installed (not library owners): ${extra[*]}"

# ---------------------------------------------------------------------------------------------
echo "== (b) Dockerfile policy"
declare -A seen_stage=()
for i in "${!instr[@]}"; do
  line=${instr[$i]}
  s=${instr_stage[$i]}
  case "$line" in
    FROM\ *)
      read -ra t <<< "${line#FROM }"
      image=""
      for w in "${t[@]}"; do
        [[ "$w" == --* ]] && continue
        image=$w
        break
      done
      for a in "${!global_args[@]}"; do
        image=${image//\$\{$a\}/${global_args[$a]}}
        image=${image//\$$a/${global_args[$a]}}
      done
      if [ -n "${seen_stage[${image,,}]:-}" ] || [ "$image" = scratch ]; then
        ok "FROM $image${stage_names[$s]:+ AS ${stage_names[$s]}} (earlier stage or scratch)"
      elif [[ "$image" == *'$'* ]]; then
        fail "FROM $image: cannot resolve the image name offline"
      else
        ref=${image%%@*}
        digest=""
        [[ "$image" == *@* ]] && digest=${image#*@}
        tag=""
        last=${ref##*/}
        [[ "$last" == *:* ]] && tag=${last##*:}
        if [ "$tag" = latest ]; then
          fail "FROM $image: the tag 'latest' is not a pin"
        elif [ -z "$tag" ] && [ -z "$digest" ]; then
          fail "FROM $image: no tag (means latest); pin one, e.g. debian:bookworm-slim"
        else
          ok "FROM $image${stage_names[$s]:+ AS ${stage_names[$s]}}" \
            "(pinned tag${digest:+ and digest})"
        fi
      fi
      [ -n "${stage_names[$s]}" ] && seen_stage[${stage_names[$s]}]=1
      ;;
    ADD\ *)
      if [[ " ${line#ADD } " =~ [[:space:]](https?|ftp|git)://|[[:space:]]git@ ]]; then
        fail "ADD of a URL: $line (download in a RUN with a checksum, or COPY a vendored file)"
      fi
      ;;
  esac
done
[ "$n_stages" -gt 0 ] || fail "no FROM in $dockerfile"
grep -Eqi '^[[:space:]]*ADD[[:space:]].*(https?|ftp|git)://' "$dockerfile" || ok "no ADD of URLs"

# USER of the final stage (the last USER instruction in it).
user=""
for i in "${!instr[@]}"; do
  if is_instr "$i" "$final_stage" USER; then user=${instr[$i]#USER }; fi
done
user=${user//[[:space:]]/}
uid=${user%%:*}
gid=""
[[ "$user" == *:* ]] && gid=${user#*:}
if [ -z "$user" ]; then
  fail "the final stage has no USER: the image would run as root"
elif [ "$uid" = 0 ] || [ "$uid" = root ] || [ "$gid" = 0 ] || [ "$gid" = root ]; then
  fail "the final stage runs as USER $user (root)"
elif ! [[ "$uid" =~ ^[0-9]+$ ]] || { [ -n "$gid" ] && ! [[ "$gid" =~ ^[0-9]+$ ]]; }; then
  fail "USER $user: use a numeric uid[:gid] so Kubernetes runAsNonRoot can verify it"
else
  ok "final stage USER $user (non-root)"
fi

# apt in the runtime stage: every RUN that runs apt-get removes /var/lib/apt/lists afterwards,
# in the same RUN (a later RUN cannot shrink the earlier layer); installs skip recommends.
apt_runs=0
for i in "${!instr[@]}"; do
  is_instr "$i" "$runtime_stage" RUN || continue
  cmd=${instr[$i]}
  [[ "$cmd" =~ apt-get|apt[[:space:]] ]] || continue
  apt_runs=$((apt_runs + 1))
  after_install=${cmd##*apt-get install}
  rm_lists='rm[[:space:]]+(-[A-Za-z]+[[:space:]]+)*[^&;]*/var/lib/apt/lists'
  if [[ "$after_install" =~ $rm_lists ]]; then
    ok "runtime RUN with apt-get removes /var/lib/apt/lists"
  else
    fail "runtime RUN with apt-get does not rm -rf /var/lib/apt/lists/* after installing:" \
      "${cmd:0:80}..."
  fi
  if [[ "$cmd" == *"apt-get install"* || "$cmd" == *"apt-get -y install"* ]] && \
     [[ "$cmd" != *--no-install-recommends* ]]; then
    fail "runtime apt-get install without --no-install-recommends"
  fi
done
[ "$apt_runs" -gt 0 ] || fail "no RUN with apt-get in the runtime stage"

# COPY --from=build of the three binaries into /usr/local/bin.
declare -A copied=()
for i in "${!instr[@]}"; do
  is_instr "$i" "$final_stage" COPY || continue
  read -ra t <<< "${instr[$i]#COPY }"
  from=""
  args=()
  for w in "${t[@]}"; do
    case "$w" in
      --from=*) from=${w#--from=} ;;
      --*) ;;
      *) args+=("$w") ;;
    esac
  done
  if [ "${from,,}" != build ] || [ "${#args[@]}" -lt 2 ]; then continue; fi
  dest=${args[-1]}
  for src in "${args[@]:0:${#args[@]}-1}"; do
    name=${src##*/}
    case "$dest" in
      /usr/local/bin/) copied[$name]=$src ;;
      /usr/local/bin/*) [ "${#args[@]}" -eq 2 ] && copied[${dest##*/}]=$src ;;
      /usr/local/bin) copied[$name]=$src ;;
    esac
  done
done
for b in "${binaries[@]}"; do
  name=${b##*/}
  if [ -n "${copied[$name]:-}" ]; then
    ok "COPY --from=build ${copied[$name]} -> /usr/local/bin/$name"
  else
    fail "the final stage does not COPY --from=build $name into /usr/local/bin"
  fi
done
if ! grep -Eq 'setup\.sh[[:space:]]+--build-only' "$dockerfile"; then
  :
elif ! grep -qs -- '--build-only' "$source_dir/scripts/setup.sh"; then
  echo "note: deploy/Dockerfile runs 'scripts/setup.sh --build-only', which scripts/setup.sh" \
    "does not handle yet"
fi

# ---------------------------------------------------------------------------------------------
echo "== (c) .dockerignore"
# Docker's matching: patterns relative to the context root (leading/trailing / dropped),
# * and ? do not cross /, ** does, a leading **/ matches zero or more directories; the last
# matching pattern wins and ! re-includes.
pattern_regex() {
  local p=$1 re="" c i
  for ((i = 0; i < ${#p}; i++)); do
    c=${p:i:1}
    if [ "${p:i:3}" = "**/" ]; then re+="(.*/)?"; i=$((i + 2))
    elif [ "${p:i:2}" = "**" ]; then re+=".*"; i=$((i + 1))
    elif [ "$c" = "*" ]; then re+="[^/]*"
    elif [ "$c" = "?" ]; then re+="[^/]"
    elif [[ "$c" == [.+^\$\(\)\{\}\|] ]]; then re+="\\$c"
    else re+="$c"
    fi
  done
  echo "^${re}(/.*)?\$"
}
ignored() {  # ignored PATH: is PATH (relative to the context root) excluded?
  local path=$1 line neg p result=1
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] || [[ "$line" == \#* ]] && continue
    neg=false
    if [[ "$line" == !* ]]; then neg=true; line=${line#!}; fi
    p=${line#/}
    p=${p%/}
    [ -n "$p" ] || continue
    if [[ "$path" =~ $(pattern_regex "$p") ]]; then
      if $neg; then result=1; else result=0; fi
    fi
  done < "$dockerignore"
  return "$result"
}
if [ ! -f "$dockerignore" ]; then
  fail "no .dockerignore at $dockerignore: build trees would go into the build context"
else
  must_ignore=(build build-asan build-fuzz .git results node_modules tests/node/node_modules)
  for d in "$source_dir"/build*/; do
    [ -d "$d" ] && must_ignore+=("$(basename "$d")")
  done
  # The one build tree this test was given, if it lies inside the source tree.
  case "$build_dir/" in "$source_dir"/*) must_ignore+=("${build_dir#"$source_dir"/}") ;; esac
  mapfile -t must_ignore < <(printf '%s\n' "${must_ignore[@]}" | sort -u)
  for p in "${must_ignore[@]}"; do
    if ignored "$p"; then
      ok ".dockerignore excludes $p"
    else
      fail ".dockerignore does not exclude $p"
    fi
  done
  # ... and keeps what the build stage needs.
  for p in CMakeLists.txt scripts/setup.sh common proto controller worker sim tests cmake; do
    if ignored "$p"; then fail ".dockerignore excludes $p, which the build stage needs"; fi
  done
fi

# ---------------------------------------------------------------------------------------------
echo "== (d) dpkg -L of each package lists the soname path of its libraries"
declare -A pkg_files_loaded=()
declare -A pkg_has=()
checked=0
for lib in $(printf '%s\n' "${!lib_pkg[@]}" | sort); do
  pkg=${lib_pkg[$lib]}
  if [ -z "${pkg_files_loaded[$pkg]:-}" ]; then
    while IFS= read -r f; do pkg_has["$pkg|$f"]=1; done < <(dpkg -L "$pkg" 2>/dev/null || true)
    pkg_files_loaded[$pkg]=1
  fi
  if [ -n "${pkg_has["$pkg|$lib"]:-}" ] || [ -n "${pkg_has["$pkg|$(usr_twin "$lib")"]:-}" ]; then
    checked=$((checked + 1))
  else
    fail "dpkg -L $pkg does not list $lib (nor $(usr_twin "$lib")): the soname would be" \
      "missing from an image that installs $pkg"
  fi
done
if [ "$checked" -eq "${#lib_pkg[@]}" ]; then
  ok "all $checked sonames are files of the packages they were mapped to" \
    "(${#pkg_files_loaded[@]} packages)"
fi

echo
if [ "${#failures[@]}" -gt 0 ]; then
  echo "dockerfile_test: ${#failures[@]} failure(s):"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "dockerfile_test: passed; runtime packages:" \
  "$(printf '%s\n' "${!required[@]}" | sort | paste -sd' ')"
