#!/bin/sh
# tests/fuzz/run.sh — run by `make fuzz` after the targets are built:
#   sh tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
# For each target: replay every input in tests/fuzz/regressions/<target>/ (each must now pass),
# then fuzz for SECONDS from the seed corpus tests/fuzz/corpus/<target>/ (plus run-time seeds
# derived from the RFC 7520 cookbook: ../shared/testdata/jose-cookbook when beside the checkout,
# else the subset in tests/data/jose-cookbook).  New corpus entries go to
# BUILD_DIR/corpus/<target>/, crashes to BUILD_DIR/artifacts/<target>/.  A crash is reported
# with the command that reproduces it; copy the input into tests/fuzz/regressions/<target>/
# so every later `make fuzz` replays it.  Exit status 1 when any target failed.
set -u
B=$1
S=$2
shift 2
SHARED=../shared/testdata/jose-cookbook
[ -d "$SHARED" ] || SHARED=tests/data/jose-cookbook
fail=""
FUZZ_IGNORE_KNOWN=$(sed -e 's/#.*//' tests/fuzz/known-issues 2>/dev/null | tr -s ' \n' ' ')

runtime_seeds() {  # runtime_seeds TARGET DIR
  [ -d "$SHARED" ] || return 0
  python3 - "$1" "$2" "$SHARED" <<'PY'
import json, os, sys
target, out, shared = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
if target == "jwt":
    d = os.path.join(shared, "jws")
    for n in sorted(os.listdir(d)):
        try:
            c = json.load(open(os.path.join(d, n)))["output"]["compact"]
        except Exception:
            continue
        put(n + ".raw", b"\x00" + c.encode())
        h, p, _ = c.split(".")
        import base64
        dec = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        put(n + ".signed", b"\x01" + dec(h) + b"\x00" + dec(p))
elif target == "jwks":
    d = os.path.join(shared, "jwk")
    keys = []
    for n in sorted(os.listdir(d)):
        raw = open(os.path.join(d, n), "rb").read()
        put(n + ".jwk", b"\x02" + raw)
        put(n + ".jwk-sym", b"\x03" + raw)
        try:
            keys.append(json.loads(raw))
        except Exception:
            pass
    put("cookbook.jwks", b"\x00" + json.dumps({"keys": keys}).encode())
PY
}

for t in "$@"; do
  bin=$B/fuzz_$t
  reg=tests/fuzz/regressions/$t
  if [ -d "$reg" ]; then
    files=$(find "$reg" -type f ! -name '*.md' | sort)
    if [ -n "$files" ]; then
      n=$(echo "$files" | wc -l)
      # shellcheck disable=SC2086
      if ! "$bin" -runs=1 $files >"$B/fuzz_$t.regress.log" 2>&1; then
        echo "fuzz $t: FAIL — a regression input in $reg still fails (log: $B/fuzz_$t.regress.log)"
        grep -m2 -E 'Running:|INVARIANT FAILED|ERROR: |runtime error' "$B/fuzz_$t.regress.log" | sed 's/^/    /'
        fail="$fail $t"
      else
        echo "fuzz $t: $n regression inputs pass"
      fi
    fi
  fi
  mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
  extra=""
  if [ -d "$SHARED" ] && [ "$t" = jwt -o "$t" = jwks ]; then
    runtime_seeds "$t" "$B/seeds/$t"
    extra="$B/seeds/$t"
  fi
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  before=$(ls "$B/artifacts/$t" | wc -l)
  # fork mode: a crash is saved and fuzzing goes on, so one known bug does not hide others
  # shellcheck disable=SC2086
  FUZZ_IGNORE_KNOWN="$FUZZ_IGNORE_KNOWN" "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$S" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$B/artifacts/$t/" $dict "$B/corpus/$t" "tests/fuzz/corpus/$t" \
    $extra >"$B/fuzz_$t.log" 2>&1
  stats=$(grep -E '^#[0-9]+: cov:' "$B/fuzz_$t.log" | tail -1)
  new=$(ls -t "$B/artifacts/$t" | head -n $(($(ls "$B/artifacts/$t" | wc -l) - before)))
  if [ -n "$new" ]; then
    echo "fuzz $t: FOUND $(echo "$new" | wc -l) failing inputs ($stats)"
    for a in $new; do
      why=$(FUZZ_IGNORE_KNOWN="$FUZZ_IGNORE_KNOWN" "$bin" "$B/artifacts/$t/$a" 2>&1 |
            grep -m1 -E 'INVARIANT FAILED|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|ERROR: LeakSanitizer' |
            sed -e 's/==[0-9]*==//' -e 's/ on address.*//' -e 's/ (.*//' | cut -c1-160)
      echo "$why	$a"
    done | sort | awk -F '\t' -v bin="$bin" -v dir="$B/artifacts/$t" '
      $1 != last { if (n) printf "    %d x %s\n      e.g. %s %s/%s\n", n, last, bin, dir, ex; last = $1; n = 0; ex = $2 }
      { n++ } END { if (n) printf "    %d x %s\n      e.g. %s %s/%s\n", n, last, bin, dir, ex }'
    echo "    keep a reproducer: cp $B/artifacts/$t/<file> tests/fuzz/regressions/$t/<what-it-shows>"
    fail="$fail $t"
  else
    echo "fuzz $t: ok ($stats)"
  fi
done
if [ -n "$fail" ]; then
  echo "fuzz: FAILED:$fail"
  exit 1
fi
echo "fuzz: all targets passed"
