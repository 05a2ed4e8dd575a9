"""examples/cdk_app.py synthesized with aws-cdk-lib (its own environment, .venv/cdk, and node), and the
template it makes checked with the provider's own validation: the CDK way of declaring a layer works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pylayer.lint import findings
from pylayer.properties import Defaults, parse

ROOT = Path(__file__).resolve().parents[2]
CDK_PYTHON = Path(sys.executable).parent.parent / "cdk" / "bin" / "python"  # make venv: .venv/cdk
SYNTH = "import sys; sys.path.insert(0, 'examples'); import cdk_app; cdk_app.app(sys.argv[1]).synth()"


def test_the_cdk_example_synthesizes_a_layer_the_provider_accepts(tmp_path: Path) -> None:
    if not CDK_PYTHON.exists():
        pytest.skip("no .venv/cdk (make venv makes it)")
    if shutil.which("node") is None:
        pytest.skip("aws-cdk-lib synthesizes with node, and there is none")
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "CDK_DISABLE_VERSION_CHECK": "1"}
    done = subprocess.run([str(CDK_PYTHON), "-c", SYNTH, str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]

    template = json.loads((tmp_path / "out" / "python-layer-cdk-consumer.template.json").read_text())
    resources = template["Resources"]
    [(name, layer)] = [(k, r) for k, r in resources.items() if r["Type"] == "Custom::PythonLayer"]
    properties = layer["Properties"]
    assert properties["ServiceToken"] == {"Fn::ImportValue": "python-layer-provider-ServiceToken"}
    assert properties["ServiceTimeout"] == "900"
    spec = parse(properties, Defaults("python3.13", "arm64"))
    assert [t.runtime for t in spec.targets] == ["python3.12", "python3.13"] and spec.architecture == "arm64"
    assert findings.check(name, layer) == []  # no error, no warning from the rules
    [function] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert function["Properties"]["Layers"] == [{"Ref": name}]  # the layer's Ref is its version ARN
