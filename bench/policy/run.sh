#!/usr/bin/env bash
# The scheduling policy alone (BenchmarkDotNet): one cycle over 10,000 pending jobs from 100 tenants,
# with room for all of them and with room for about 100. Prints the admissions per cycle, then the mean
# time and the bytes allocated per cycle. Admissions/s = admissions per cycle / mean.
# Usage: bench/policy/run.sh [--job short]   (extra arguments go to BenchmarkDotNet)
set -euo pipefail
cd "$(dirname "$0")"
dotnet run -c Release -- --filter '*' "$@"
