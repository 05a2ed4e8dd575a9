"""cfn-lint rules for Custom::PythonLayer resources, found through the installed package:

    cfn-lint --append-rules=pylayer.lint template.yaml      (or: pylayer lint template.yaml)

cfn-lint imports this module and instantiates each CloudFormationLintRule
subclass at its top level. Every rule reads ``findings.check``, which runs the
provider's own validation (``properties.parse``): a template passes exactly
when the provider would accept it. Not part of the provider's Lambda package.
"""

from __future__ import annotations

from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import findings
from .findings import Finding

RESOURCE_TYPE = "Custom::PythonLayer"
_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html"
_PEP508 = "https://peps.python.org/pep-0508/"
_TAGS = ["resources", "custom", "pythonlayer"]
_SEEN: WeakKeyDictionary[Any, list[tuple[str, Finding]]] = WeakKeyDictionary()


def template_findings(cfn: Any) -> list[tuple[str, Finding]]:
    """(logical id, finding) for every Custom::PythonLayer of a cfn-lint Template; computed once per template."""
    if cfn not in _SEEN:
        _SEEN[cfn] = [(str(name), finding) for name, resource in cfn.get_resources([RESOURCE_TYPE]).items()
                      for finding in findings.check(str(name), resource)]
    return _SEEN[cfn]


class _Matcher:
    """Shared match(); not a CloudFormationLintRule itself, so cfn-lint does not load it."""

    id: str

    def match(self, cfn: Any) -> list[Any]:
        return [RuleMatch(["Resources", name, *finding.path], finding.message)
                for name, finding in template_findings(cfn) if finding.rule == self.id]


class PythonLayerUnknownProperty(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.UNKNOWN_PROPERTY
    shortdesc = "Unknown Custom::PythonLayer property"
    description = "Custom::PythonLayer refuses a property it does not know (a misspelt name is not dropped)."
    source_url = _DOCS
    tags: ClassVar[list[str]] = _TAGS


class PythonLayerMissingProperty(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.MISSING_PROPERTY
    shortdesc = "Required Custom::PythonLayer property missing"
    description = "LayerName and Requirements must be set and not empty."
    source_url = _DOCS
    tags: ClassVar[list[str]] = _TAGS


class PythonLayerWrongType(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.WRONG_TYPE
    shortdesc = "Custom::PythonLayer property of the wrong type"
    description = "A list or map where a string belongs, a Boolean that is not true or false, a map for a list."
    source_url = _DOCS
    tags: ClassVar[list[str]] = _TAGS


class PythonLayerBadValue(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.BAD_VALUE
    shortdesc = "Custom::PythonLayer property value refused"
    description = "A value the provider refuses: names, runtimes, limits, sharing, Bytecode, ImportCheck."
    source_url = _DOCS
    tags: ClassVar[list[str]] = _TAGS


class PythonLayerBadRequirement(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.BAD_REQUIREMENT
    shortdesc = "Custom::PythonLayer requirement refused"
    description = ("Each requirement must be a PEP 508 requirement of a package from the index: no pip options, "
                   "local paths, URLs or direct URL references.")
    source_url = _PEP508
    tags: ClassVar[list[str]] = [*_TAGS, "requirements"]


class PythonLayerStaleLock(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.STALE_LOCK
    shortdesc = "Custom::PythonLayer Lock does not hold what the layer asks for"
    description = ("The Lock was made for other Requirements, runtimes or architecture (a stale lock): the "
                   "provider refuses it. Run pylayer lock --write and review the change.")
    source_url = _DOCS
    tags: ClassVar[list[str]] = [*_TAGS, "requirements"]


class PythonLayerUnpinnedRequirement(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.UNPINNED_REQUIREMENT
    shortdesc = "Custom::PythonLayer requirement not pinned"
    description = ("A requirement without == in a layer without a Lock can resolve to another version while the "
                   "template shows no change.")
    source_url = _PEP508
    tags: ClassVar[list[str]] = [*_TAGS, "requirements"]


class PythonLayerServiceTimeout(_Matcher, CloudFormationLintRule):  # type: ignore[misc]
    id = findings.NO_SERVICE_TIMEOUT
    shortdesc = "Custom::PythonLayer without ServiceTimeout"
    description = "Without ServiceTimeout, CloudFormation waits up to an hour for an answer that is lost."
    source_url = _DOCS
    tags: ClassVar[list[str]] = _TAGS
