"""The README's first commands and quickstart stay true."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    bash = _blocks("bash")
    assert "gamedyn compare" in bash[0]
    assert "pytest" in bash[1]
    ci = (README.parent / ".ci/run").read_text()
    assert bash[1].strip() in ci


def test_quickstart_runs_and_prints_rates(capsys):
    code = _blocks("python")[0]
    exec(compile(code, "README-quickstart", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["simgd", "extragradient"]
    # J = [[1, 2], [-2, 1]] per coordinate: simgd rate |1 - 0.1 (1 +- 2i)| = sqrt(0.85).
    assert f"rate {0.85 ** 0.5:.4f}" in lines[0]


# Every block runs (in float32, what users get): tests/test_float32.py.
