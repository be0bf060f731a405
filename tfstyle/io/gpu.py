"""What the NVIDIA driver says of a GPU's memory: NVML (`nvidia-ml-py`'s
`pynvml`), else `nvidia-smi`, else nothing.

TensorFlow's public API tells only the memory it has in use, not the card's
size, and its private `device_lib` creates every device to answer. The
driver knows both the card's size and what each process holds on it.

The figure a plan wants is the card's total less what *other* processes
hold: on Colab the card is shared with the notebook's kernel (and whatever
it ran: another framework, an earlier model), and memory they hold is not
ours to plan for. What this process holds is not subtracted where NVML
can tell it apart: the plan charges its own weights and workspace itself
(memory.DEVICE_BASELINE_BYTES).

NVML and nvidia-smi number the cards of the whole machine; CUDA (and so
TensorFlow) numbers only those CUDA_VISIBLE_DEVICES lists, in its order:
TensorFlow's GPU 0 is that list's first entry, an index or a UUID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

# nvidia-smi answers in well under a second; a wedged driver must not hold
# up a run's planning.
SMI_TIMEOUT = 5.0
SMI_FIELDS = ("index", "uuid", "name", "memory.total", "memory.used")
MIB = 1024 ** 2


@dataclass(frozen=True)
class GpuMemory:
    """One card's memory, in bytes, as the driver reports it."""
    name: str
    total: float
    others: float  # held by other processes (nvidia-smi: by every process)
    source: str  # "NVML" or "nvidia-smi"

    @property
    def available(self) -> float:
        """The card's total less what other processes hold."""
        return max(self.total - self.others, 0.0)

    def to_dict(self) -> dict:
        return {"name": self.name, "total_gb": self.total / 1e9,
                "held_by_others_gb": self.others / 1e9,
                "available_gb": self.available / 1e9, "source": self.source}


def visible_device(environ=None) -> str:
    """The driver's name for TensorFlow's GPU 0: the first entry of
    CUDA_VISIBLE_DEVICES (an index or a UUID), else "0"."""
    listed = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
    entries = [e.strip() for e in (listed or "").split(",") if e.strip()]
    return entries[0] if entries else "0"


def gpu_memory(device: str = "0") -> GpuMemory | None:
    """The memory of `device` (an index or UUID, see visible_device), from
    NVML, else nvidia-smi, else None."""
    return nvml_memory(device) or smi_memory(device)


def nvml_memory(device: str) -> GpuMemory | None:
    """From NVML, or None without pynvml, a driver or that device."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # pynvml.NVMLError: no driver, no library
        return None
    try:
        handle = (pynvml.nvmlDeviceGetHandleByIndex(int(device)) if device.isdigit()
                  else pynvml.nvmlDeviceGetHandleByUUID(device))
        info = pynvml.nvmlDeviceGetMemoryInfo(handle)
        name = pynvml.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else str(name)
        return GpuMemory(name, float(info.total), _others(pynvml, handle, float(info.used)),
                         "NVML")
    except Exception:  # NVMLError, a bad index: no figure rather than a failed run
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _others(pynvml, handle, used: float) -> float:
    """The card's use less this process's own: what other processes (seen
    or not: a container hides them) and the driver hold. The whole use
    where NVML cannot say what this process holds."""
    try:
        processes = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except Exception:
        return used
    mine = [p.usedGpuMemory for p in processes if p.pid == os.getpid()]
    if any(m is None for m in mine):
        return used
    return max(used - float(sum(mine)), 0.0)


def smi_memory(device: str, timeout: float | None = None) -> GpuMemory | None:
    """From `nvidia-smi`, or None when it is missing, fails, hangs past
    `timeout` s (default SMI_TIMEOUT) or names no such device."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return None
    try:
        out = subprocess.run([program, f"--query-gpu={','.join(SMI_FIELDS)}",
                              "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=timeout or SMI_TIMEOUT,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for card in parse_smi(out):
        if device in (card["index"], card["uuid"]):
            return GpuMemory(card["name"], card["total"], card["used"], "nvidia-smi")
    return None


def parse_smi(text: str) -> list[dict]:
    """The cards of nvidia-smi's CSV lines (SMI_FIELDS, MiB, no header);
    a line that does not read as one (a warning, "[N/A]") is skipped."""
    cards = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(SMI_FIELDS) or not parts[0].isdigit():
            continue
        try:
            total, used = float(parts[3]) * MIB, float(parts[4]) * MIB
        except ValueError:
            continue
        if total > 0 and 0 <= used <= total:
            cards.append({"index": parts[0], "uuid": parts[1], "name": parts[2],
                          "total": total, "used": used})
    return cards
