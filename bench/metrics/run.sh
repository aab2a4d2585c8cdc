#!/usr/bin/env bash
# What a replica's metrics cost per request (BenchmarkDotNet): one counter increment and one histogram
# observation, with prometheus-net and with OpenTelemetry (tags per call, or none with constant labels).
# Usage: bench/metrics/run.sh [--job short]   (extra arguments go to BenchmarkDotNet)
set -euo pipefail
cd "$(dirname "$0")"
dotnet run -c Release -- --filter '*' "$@"
