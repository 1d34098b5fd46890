# Sourced by scripts/setup-venv and scripts/test-ha: a long step (a pip install of
# many packages; Home Assistant's test harness takes minutes on a first run) says
# what it does, then "still ..." every $PROGRESS_EVERY seconds (30), then how long
# it took. Its exit status is the command's; Ctrl-C stops the command too.
#   progress "installing the test harness" pip install -q ...
progress() {
    local what="$1" every="${PROGRESS_EVERY:-30}" start=$SECONDS pid status=0
    shift
    echo "$what..." >&2
    "$@" &
    pid=$!
    # (a background command ignores Ctrl-C in a script: pass it on)
    trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
    local next=$((start + every))
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        if kill -0 "$pid" 2>/dev/null && (( SECONDS >= next )); then
            echo "  ... still $what ($((SECONDS - start)) s)" >&2
            next=$((next + every))
        fi
    done
    wait "$pid" || status=$?
    trap - INT TERM
    if [ "$status" -ne 0 ]; then
        echo "  FAILED: $what (exit $status after $((SECONDS - start)) s)" >&2
        return "$status"
    fi
    echo "  done: $what ($((SECONDS - start)) s)" >&2
}
