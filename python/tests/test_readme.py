"""README.md's Python examples are examples/quickstart.py and
examples/gateway.py (docs/python.md's router example too), which run; the
stubs name what the module exports."""
import ast
import os
import subprocess
import sys

import pce

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)


def fenced_block(doc, fence, section="\n## Python\n"):
    with open(os.path.join(os.path.dirname(PYDIR), doc), encoding="utf-8") as f:
        text = f.read()
    text = text[text.index(section):]
    start = text.index(f"```{fence}\n") + len(f"```{fence}\n")
    return text[start:text.index("```", start)]


def run_example(name):
    path = os.path.join(PYDIR, "examples", name)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pce.__file__)))
    return subprocess.run([sys.executable, path], capture_output=True, text=True, check=True,
                          timeout=60, env=env).stdout


def example(name):
    with open(os.path.join(PYDIR, "examples", name), encoding="utf-8") as f:
        return f.read()


def test_readme_example_is_the_quickstart_and_runs():
    assert fenced_block("README.md", "python") == example("quickstart.py")
    assert run_example("quickstart.py") == "reuse 6 of 8 tokens from KV 0x1000\n"


def test_router_examples_are_the_gateway_and_run():
    assert fenced_block("README.md", "python router") == example("gateway.py")
    assert fenced_block(os.path.join("docs", "python.md"), "python router",
                        "\n## Router\n") == example("gateway.py")
    assert run_example("gateway.py") == ("worker 3 holds 12 tokens (score 12.0)\n"
                                         "worker 5 holds 8 tokens (score 6.4)\n")


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
