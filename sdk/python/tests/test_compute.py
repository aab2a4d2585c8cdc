"""Compute shorthands become the spec's compute."""
import unittest

from strata import Compute
from strata.compute import to_spec


class ComputeTests(unittest.TestCase):
    def test_shorthands(self):
        cases = {
            "cpu-4": {"type": "cpu", "cpu_cores": 4},
            "cpu-4-16gb": {"type": "cpu", "cpu_cores": 4, "memory_gb": 16},
            "CPU-2-8GB": {"type": "cpu", "cpu_cores": 2, "memory_gb": 8},
            "gpu-1x-v100": {"type": "gpu", "gpu_count": 1, "gpu_type": "tesla-v100"},
            "gpu-2x-a100": {"type": "gpu", "gpu_count": 2, "gpu_type": "nvidia-a100"},
            "gpu-8x-h100": {"type": "gpu", "gpu_count": 8, "gpu_type": "nvidia-h100"},
            "gpu-1x-t4": {"type": "gpu", "gpu_count": 1, "gpu_type": "tesla-t4"},
            "gpu-2x": {"type": "gpu", "gpu_count": 2},
            "gpu-0.5x-a100": {"type": "gpu", "gpu_fraction": 0.5, "gpu_type": "nvidia-a100"},
            "gpu-1x-a100-8cpu-64gb": {"type": "gpu", "gpu_count": 1, "gpu_type": "nvidia-a100", "cpu_cores": 8, "memory_gb": 64},
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                self.assertEqual(expected, to_spec(text))

    def test_bad_shorthands_say_what_is_expected(self):
        for text in ("cpu", "gpu-x-a100", "tpu-4", "cpu-4-16", "gpu-1.5x-a100", "gpu-0x"):
            with self.subTest(text=text), self.assertRaises(ValueError) as caught:
                to_spec(text)
            self.assertIn(text, str(caught.exception))

    def test_a_compute_object_and_a_dict(self):
        self.assertEqual({"type": "gpu", "gpu_count": 1, "gpu_type": "nvidia-l4", "disk_gb": 50.0},
                         to_spec(Compute(type="gpu", gpu_count=1, gpu_type="nvidia-l4", disk_gb=50.0)))
        self.assertEqual({"cpu_cores": 3}, to_spec({"cpu_cores": 3}))
        self.assertIsNone(to_spec(None))
        with self.assertRaises(TypeError):
            to_spec(4)


if __name__ == "__main__":
    unittest.main()
