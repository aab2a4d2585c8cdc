#!/usr/bin/env bash
# The control plane end to end, runtime start stubbed: jobs admitted and persisted per second when
# 10,000 are waiting (10 tenants, SQLite with synchronous=FULL). Prints one line per round.
# Usage: bench/control-plane/run.sh [jobs, default 10000] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")"
# Outside the solution: a change of the runtime boundary shows here, so build errors are printed.
dotnet build -c Release -v q -nologo | grep -E "error|Build FAILED" && exit 1
dotnet bin/Release/net10.0/Strata.Bench.ControlPlane.dll "${1:-10000}" "${2:-3}"
