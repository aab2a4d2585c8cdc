"""What a job runs on: :class:`Compute`, and the shorthands that stand for one.

Shorthands (case does not matter):

- ``cpu-4``: 4 CPU cores; ``cpu-4-16gb``: and 16 GB of memory;
- ``gpu-1x-v100``, ``gpu-2x-a100``: that many whole GPUs of that kind; ``gpu-2x``: of any kind;
- ``gpu-0.5x-a100``: a share of one GPU (``gpu_fraction``);
- a GPU shorthand may end in ``-8cpu`` and/or ``-32gb`` (``gpu-1x-a100-8cpu-64gb``).

GPU kinds become the spec's ``gpu_type``, which the platform matches against device names lowercased
with every run of other characters made one dash (docs/gpus.md). NVIDIA's data-centre cards before
the A100 are named "Tesla ..." by the driver (``Tesla V100-SXM2-16GB``), so ``v100``, ``p100``, ``p4``,
``p40``, ``k80`` and ``t4`` map to ``tesla-<kind>``; every other kind maps to ``nvidia-<kind>``
(``a100`` → ``nvidia-a100``, matching ``NVIDIA A100-SXM4-80GB``). For any other name, pass
``Compute(gpu_type=...)`` as the driver spells it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Dict, Optional, Union

#: GPU kinds the driver names "Tesla ..." rather than "NVIDIA ...".
TESLA_KINDS = frozenset({"v100", "p100", "p40", "p4", "k80", "t4", "m60"})

_CPU = re.compile(r"^cpu-(?P<cores>\d+)(?:-(?P<memory>\d+)gb)?$")
_GPU = re.compile(r"^gpu-(?P<count>\d+(?:\.\d+)?)x(?:-(?P<kind>[a-z][a-z0-9]*))?"
                  r"(?:-(?P<cores>\d+)cpu)?(?:-(?P<memory>\d+)gb)?$")


@dataclass(frozen=True)
class Compute:
    """The spec's ``compute``: every field optional; None leaves the server's default.

    Args:
        type: ``cpu``, ``gpu`` or ``tpu`` (GPU fields imply ``gpu``).
        cpu_cores: whole CPU cores.
        memory_gb: memory in GB.
        gpu_count: whole GPUs.
        gpu_type: a device kind, e.g. ``nvidia-a100`` or ``tesla-v100``.
        gpu_fraction: a share of one GPU (0.25, 0.5...).
        max_processes: the most processes the job may run.
        disk_gb: scratch disk in GB.
    """

    type: Optional[str] = None
    cpu_cores: Optional[int] = None
    memory_gb: Optional[int] = None
    gpu_count: Optional[int] = None
    gpu_type: Optional[str] = None
    gpu_fraction: Optional[float] = None
    max_processes: Optional[int] = None
    disk_gb: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        """The spec's JSON object (fields that are None left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def parse(cls, shorthand: str) -> "Compute":
        """The compute a shorthand stands for; ValueError names what is wrong."""
        text = shorthand.strip().lower()
        cpu = _CPU.match(text)
        if cpu:
            return cls(type="cpu", cpu_cores=int(cpu["cores"]),
                       memory_gb=int(cpu["memory"]) if cpu["memory"] else None)
        gpu = _GPU.match(text)
        if gpu:
            count = float(gpu["count"])
            kind = gpu["kind"]
            common = dict(type="gpu", gpu_type=gpu_type_for(kind) if kind else None,
                          cpu_cores=int(gpu["cores"]) if gpu["cores"] else None,
                          memory_gb=int(gpu["memory"]) if gpu["memory"] else None)
            if count.is_integer() and count >= 1:
                return cls(gpu_count=int(count), **common)  # type: ignore[arg-type]
            if 0 < count < 1:
                return cls(gpu_fraction=count, **common)  # type: ignore[arg-type]
            raise ValueError(f"compute {shorthand!r}: the GPU count must be a whole number or a fraction below 1")
        raise ValueError(f"compute {shorthand!r} is not a shorthand: expected cpu-4, cpu-4-16gb, gpu-1x-v100, "
                         "gpu-2x-a100, gpu-0.5x-a100 or gpu-1x-a100-8cpu-64gb")


def gpu_type_for(kind: str) -> str:
    """The spec's ``gpu_type`` for a shorthand's GPU kind (``v100`` → ``tesla-v100``, ``a100`` → ``nvidia-a100``)."""
    kind = kind.lower()
    return ("tesla-" if kind in TESLA_KINDS else "nvidia-") + kind


def to_spec(compute: Union[None, str, Compute, Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The spec's ``compute`` object from a shorthand, a :class:`Compute` or a dict (as it is)."""
    if compute is None:
        return None
    if isinstance(compute, str):
        return Compute.parse(compute).to_dict()
    if isinstance(compute, Compute):
        return compute.to_dict()
    if isinstance(compute, dict):
        return dict(compute)
    raise TypeError(f"compute must be a shorthand string, a Compute or a dict, not {type(compute).__name__}")
