"""README.md's Python example is examples/quickstart.py, which runs; the
stubs name what the module exports."""
import ast
import os
import subprocess
import sys

import pce

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)


def readme_python_block():
    with open(os.path.join(os.path.dirname(PYDIR), "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("\n## Python\n"):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```", start)]


def test_readme_example_is_the_quickstart_and_runs():
    path = os.path.join(PYDIR, "examples", "quickstart.py")
    with open(path, encoding="utf-8") as f:
        assert readme_python_block() == f.read()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pce.__file__)))
    out = subprocess.run([sys.executable, path], capture_output=True, text=True, check=True,
                         timeout=60, env=env)
    assert out.stdout == "reuse 6 of 8 tokens from KV 0x1000\n"


def test_stubs_cover_the_module():
    with open(os.path.join(PYDIR, "pce", "__init__.pyi"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    stubbed |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign)
                for t in [n.target]}
    assert set(pce.__all__) <= stubbed
    for cls in (pce.Cache, pce.Router):
        methods = {n.name for c in tree.body
                   if isinstance(c, ast.ClassDef) and c.name == cls.__name__
                   for n in c.body if isinstance(n, ast.FunctionDef)}
        public = {m for m in dir(cls) if not m.startswith("_")}
        assert public <= methods | {"closed"}, cls
