#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The layout's promises, checked: dependencies between top-level folders run one way.

1. No CMakeLists.txt compiles a source file of another top-level folder.
2. Nothing in core/ includes a file of the plugin SDK (plugins/include) but the C ABI header.
3. The SDK's headers include nothing of crema but the ABI header, and each compiles alone
   against the standard library and that header (plugin_abi.h also as C).

usage: check_layout.py SOURCE_DIR [CXX] [CC]
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cu")
ABI_HEADER = "crema/plugin_abi.h"
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)


def top_folder(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root).parts[0]


def cmake_cross_compiles(root: Path) -> list[str]:
    """Source files named in a CMakeLists.txt that live in another top-level folder."""
    problems = []
    for cmake in sorted(root.rglob("CMakeLists.txt")):
        rel = cmake.relative_to(root)
        if rel.parts[0].startswith("build") or len(rel.parts) < 2:
            continue  # the root CMakeLists only adds folders
        own = rel.parts[0]
        text = cmake.read_text()
        for token in re.findall(r"[^\s()\"]+", text):
            if not token.endswith(SOURCE_SUFFIXES):
                continue
            path = token.replace("${CMAKE_SOURCE_DIR}", str(root))
            path = path.replace("${CMAKE_CURRENT_SOURCE_DIR}", str(cmake.parent))
            if "${" in path:
                continue
            candidate = Path(path) if Path(path).is_absolute() else cmake.parent / path
            if not candidate.exists():
                continue
            folder = top_folder(root, candidate)
            if folder != own:
                problems.append(f"{rel}: compiles {token}, a file of {folder}/")
    return problems


def sdk_headers(root: Path) -> list[Path]:
    base = root / "plugins" / "include"
    return sorted(p for p in base.rglob("*") if p.suffix in (".h", ".hpp"))


def core_includes_of_sdk(root: Path) -> list[str]:
    sdk = {str(p.relative_to(root / "plugins" / "include")) for p in sdk_headers(root)}
    problems = []
    for f in sorted((root / "core").rglob("*")):
        if f.suffix not in (".h", ".hpp", ".cpp", ".cu"):
            continue
        for inc in INCLUDE.findall(f.read_text()):
            if inc in sdk and inc != ABI_HEADER:
                problems.append(f"{f.relative_to(root)}: includes the SDK's {inc}")
    return problems


def sdk_includes_of_crema(root: Path) -> list[str]:
    problems = []
    for h in sdk_headers(root):
        for inc in INCLUDE.findall(h.read_text()):
            if inc.startswith("crema") and inc != ABI_HEADER:
                problems.append(f"{h.relative_to(root)}: includes {inc}")
    return problems


def compiles_alone(root: Path, cxx: str, cc: str) -> tuple[list[str], list[str]]:
    problems, skipped = [], []
    include = root / "plugins" / "include"
    cuda_include = Path("/usr/local/cuda/include")
    with tempfile.TemporaryDirectory() as tmp:
        for h in sdk_headers(root):
            rel = h.relative_to(include)
            source = Path(tmp) / "alone.cpp"
            source.write_text(f'#include "{rel}"\n')
            command = [cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-I", str(include)]
            if "cuda_runtime.h" in h.read_text():
                if not (cuda_include / "cuda_runtime.h").exists():
                    skipped.append(f"{rel} (needs the CUDA toolkit's cuda_runtime.h)")
                    continue
                command += ["-I", str(cuda_include)]
            run = subprocess.run([*command, str(source)], capture_output=True, text=True)
            if run.returncode != 0:
                problems.append(f"{rel} does not compile alone:\n{run.stderr}")
        abi = Path(tmp) / "abi.c"
        abi.write_text(f'#include "{ABI_HEADER}"\n')
        run = subprocess.run(
            [cc, "-std=c99", "-fsyntax-only", "-Wall", "-I", str(include), str(abi)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            problems.append(f"{ABI_HEADER} is not valid C:\n{run.stderr}")
    return problems, skipped


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    cxx = sys.argv[2] if len(sys.argv) > 2 else "c++"
    cc = sys.argv[3] if len(sys.argv) > 3 else "cc"
    problems = cmake_cross_compiles(root) + core_includes_of_sdk(root) + sdk_includes_of_crema(root)
    compile_problems, skipped = compiles_alone(root, cxx, cc)
    problems += compile_problems
    for s in skipped:
        print(f"not checked: {s}")
    for p in problems:
        print(f"layout: {p}", file=sys.stderr)
    if problems:
        print("dependencies must run one way: see README.md, 'The layout'", file=sys.stderr)
        return 1
    print(f"layout rules hold ({len(sdk_headers(root))} SDK headers compile alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
