# Sourced by .ci/run and Tools/test: run a named stage, print how long it took,
# and stop the script with the stage's exit status if it failed.
#
#   stage "swift build" swift build

stage() {
    local name=$1
    shift
    local start end status=0
    start=$(date +%s.%N)
    echo "==> ${name}"
    "$@" || status=$?
    end=$(date +%s.%N)
    local seconds
    seconds=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
    if [ "$status" -eq 0 ]; then
        echo "==> ${name}: ok in ${seconds}s"
    else
        echo "==> ${name}: FAILED (exit ${status}) after ${seconds}s" >&2
        exit "$status"
    fi
}
