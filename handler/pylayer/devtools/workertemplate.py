"""The runtime workers' part of template.yaml, written out from the supported runtimes.

One worker function per Lambda Python runtime and architecture, each behind a
condition built from the WorkerRuntimes and WorkerArchitectures parameters
(CloudFormation has no loops a SAR application may use). The generated text
sits between ``# BEGIN generated: NAME`` and ``# END generated: NAME`` lines in
template.yaml; ``make template`` rewrites it, and a test fails when the
committed template differs from what ``render`` gives.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..target import ARCHITECTURES, RUNTIMES

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
# Runtimes AWS has deprecated: their worker functions are off by default (cfn-lint warns of them).
DEPRECATED = ("python3.9", "python3.10")
SKIPPED_CHECKS = (
    ("CKV_AWS_116", "Failed invocations are not retried (the provider answers for them); a DLQ would only "
                    "hold a request nobody waits for."),
    ("CKV_AWS_117", "Reaches only its logs (its two staged objects come as presigned URLs); a VPC adds nothing but NAT "
                    "cost."),
    ("CKV_AWS_115", "Invoked only by the provider, whose own concurrency (ProviderConcurrency) bounds it."),
    ("CKV_AWS_173", "No environment variables."),
)


def _suffix(runtime: str) -> str:
    return "Python" + runtime.removeprefix("python").replace(".", "")


def _arch(architecture: str) -> str:
    return {"arm64": "Arm64", "x86_64": "X8664"}[architecture]


def logical_id(runtime: str, architecture: str) -> str:
    return f"Worker{_suffix(runtime)}{_arch(architecture)}"


def pairs() -> list[tuple[str, str]]:
    return [(r, a) for r in RUNTIMES for a in ARCHITECTURES]


def _member(condition: str, parameter: str, value: str) -> str:
    """A condition true when the CommaDelimitedList parameter holds value (split and join, no loops)."""
    whole = f'!Join ["", [",", !Join [",", !Ref {parameter}], ","]]'
    return f'  {condition}: !Not [!Equals [!Join ["", !Split [",{value},", {whole}]], {whole}]]'


def conditions() -> str:
    lines = [_member(f"WorkerRuntime{_suffix(r)}", "WorkerRuntimes", r) for r in RUNTIMES]
    lines += [_member(f"WorkerArchitecture{_arch(a)}", "WorkerArchitectures", a) for a in ARCHITECTURES]
    lines += [f"  {logical_id(r, a)}: !And [!Condition WorkerRuntime{_suffix(r)}, "
              f"!Condition WorkerArchitecture{_arch(a)}]" for r, a in pairs()]
    # Some worker exists: an IAM statement may not have an empty Resource list.
    some_runtime = ", ".join(f"!Condition WorkerRuntime{_suffix(r)}" for r in RUNTIMES)
    some_architecture = ", ".join(f"!Condition WorkerArchitecture{_arch(a)}" for a in ARCHITECTURES)
    lines.append(f"  AnyWorker: !And [!Or [{some_runtime}], !Or [{some_architecture}]]")
    return "\n".join(lines)


def resources() -> str:
    blocks = []
    for runtime, architecture in pairs():
        name = logical_id(runtime, architecture)
        ignore = "\n      cfn-lint:\n        config:\n          ignore_checks: [W2531]  # a deprecated runtime: " \
                 "created only when WorkerRuntimes names it" if runtime in DEPRECATED else ""
        checks = [*SKIPPED_CHECKS, *([("CKV_AWS_363", "A deprecated runtime: created only when WorkerRuntimes names "
                                                     "it, for layers that still serve it.")]
                                     if runtime in DEPRECATED else [])]
        skips = "".join(f"\n          - id: {check}\n            comment: \"{why}\"" for check, why in checks)
        blocks.append(f"""  {name}:
    Type: AWS::Serverless::Function
    Condition: {name}
    Metadata:
      BuildMethod: makefile  # handler/Makefile, build-Worker%: pylayer/worker only{ignore}
      checkov:
        skip:{skips}
    Properties:
      Description: Custom::PythonLayer runtime worker for {runtime} {architecture}
      CodeUri: handler/
      Handler: pylayer.worker.lambda_function.handler
      Runtime: {runtime}
      Architectures: [{architecture}]
      Timeout: 600
      MemorySize: !Ref WorkerMemorySize
      EphemeralStorage:
        Size: !Ref WorkerEphemeralStorageSize
      Role: !GetAtt WorkerRole.Arn
      LoggingConfig:
        LogGroup: !Ref WorkerLogGroup""")
    return "\n\n".join(blocks)


def functions_variable() -> str:
    entries = ", ".join(f'!If [{logical_id(r, a)}, !Sub "{r}/{a}=${{{logical_id(r, a)}.Arn}}", ""]'
                        for r, a in pairs())
    return f'          WORKER_FUNCTIONS: !Join [",", [{entries}]]'


def invoke_resources() -> str:
    entries = "\n".join(f"                    - !If [{logical_id(r, a)}, !GetAtt {logical_id(r, a)}.Arn, "
                        "!Ref AWS::NoValue]" for r, a in pairs())
    return f"""              - !If
                - AnyWorker
                - Sid: InvokeOwnWorkers
                  Effect: Allow
                  Action: lambda:InvokeFunction
                  Resource:
{entries}
                - !Ref AWS::NoValue"""


SECTIONS = {"worker conditions": conditions, "worker functions": resources,
            "worker functions variable": functions_variable, "worker invoke": invoke_resources}
_SECTION = re.compile(r"(?P<head>^[ \t]*# BEGIN generated: (?P<name>[a-z ]+)\n)(?P<body>.*?)"
                      r"(?P<tail>^[ \t]*# END generated: (?P=name)$)", re.DOTALL | re.MULTILINE)


def render(text: str) -> str:
    """template.yaml's text with every generated section written anew."""
    found = set()

    def section(match: re.Match[str]) -> str:
        found.add(match["name"])
        return match["head"] + SECTIONS[match["name"]]() + "\n" + match["tail"]

    result = _SECTION.sub(section, text)
    missing = set(SECTIONS) - found
    if missing:
        raise ValueError(f"template.yaml lacks the generated sections {sorted(missing)}")
    return result


def main() -> int:
    TEMPLATE.write_text(render(TEMPLATE.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
