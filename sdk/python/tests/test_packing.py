"""The SDK packs a folder exactly as `strata run` does (CodePacker, IgnoreRules)."""
import os
import tarfile
import unittest

from strata import packing

from fake_api import temporary_folder


def tree(test, files):
    root = temporary_folder(test)
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return root


class PackingTests(unittest.TestCase):
    def test_gitignore_at_every_level_strataignore_and_never_git(self):
        root = tree(self, {
            "train.py": "", ".gitignore": "*.log\ndata/\n/build\n", "run.log": "", "build/x": "", "src/build/y.py": "",
            "data/big.csv": "", "src/.gitignore": "secret.txt\n!keep.log\n", "src/secret.txt": "", "src/keep.log": "",
            "src/m.py": "", ".git/config": "", ".strataignore": "notes/**\n!run.log\n", "notes/a/b.md": "",
            "docs/a.md": "",
        })
        self.assertEqual([".gitignore", ".strataignore", "docs/a.md", "run.log", "src/.gitignore", "src/build/y.py",
                          "src/keep.log", "src/m.py", "train.py"], packing.select(root))

    def test_patterns(self):
        rules = packing.IgnoreRules(["# c", "", "*.py[co]", "a/**/z", "**/tmp", "logs/**", "\\#hash", "x?y", "dir/",
                                     "trailing   ", "[!a]b"])
        cases = {("m.pyc", False): True, ("p/m.pyo", False): True, ("m.py", False): None, ("a/z", False): True,
                 ("a/b/c/z", False): True, ("q/tmp", True): True, ("logs/x/y", False): True, ("#hash", False): True,
                 ("xay", False): True, ("x/y", False): None, ("dir", False): None, ("dir", True): True,
                 ("trailing", False): True, ("cb", False): True, ("ab", False): None}
        for (path, is_folder), expected in cases.items():
            with self.subTest(path=path):
                self.assertEqual(expected, rules.match(path, is_folder))

    def test_links_are_reported_not_packed(self):
        root = tree(self, {"train.py": "", "real/f.txt": ""})
        os.symlink("/etc/hostname", os.path.join(root, "host"))
        os.symlink(os.path.join(root, "real"), os.path.join(root, "folder-link"))
        skipped = []
        self.assertEqual(["real/f.txt", "train.py"], packing.select(root, skipped))
        self.assertEqual(["folder-link", "host"], skipped)

    def test_pack_writes_a_tar_gz_of_the_selection(self):
        root = tree(self, {"train.py": "print(1)", "lib/util.py": "x = 1", ".gitignore": "*.tmp\n", "a.tmp": ""})
        result = packing.pack(root)
        self.addCleanup(os.remove, result.archive_path)
        with tarfile.open(result.archive_path, "r:gz") as tar:
            self.assertEqual([".gitignore", "lib/util.py", "train.py"], tar.getnames())
        self.assertEqual(3, result.files)
        self.assertEqual(len("print(1)") + len("x = 1") + len("*.tmp\n"), result.bytes)


if __name__ == "__main__":
    unittest.main()
