"""A Custom::PythonLayer in an AWS CDK (Python) app, and a function that uses it.

Deploy the provider first (stack python-layer-provider), then, with aws-cdk-lib installed:

    cdk deploy --app "python examples/cdk_app.py"

The layer is a CustomResource of type Custom::PythonLayer whose service token is the provider's export;
its Ref is the layer version ARN. tests/functional/test_cdk_example.py synthesizes this app and checks the
template with the provider's own validation.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct


class LayerConsumer(cdk.Stack):
    def __init__(self, scope: Construct, name: str) -> None:
        super().__init__(scope, name)
        layer = cdk.CustomResource(
            self, "PydanticLayer",
            resource_type="Custom::PythonLayer",
            service_token=cdk.Fn.import_value("python-layer-provider-ServiceToken"),
            # Building takes minutes: without it CloudFormation waits up to an hour for a lost answer.
            service_timeout=cdk.Duration.seconds(900),
            properties={
                "LayerName": f"{name}-pydantic",
                "Requirements": ["pydantic==2.10.4"],
                "CompatibleRuntimes": ["python3.12", "python3.13"],
                "Architecture": "arm64",
            },
        )
        lambda_.Function(
            self, "Consumer",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_inline("import pydantic\n\ndef handler(event, context):\n"
                                          "    return pydantic.VERSION\n"),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "Pydantic", layer.ref)],
        )


def app(outdir: str | None = None) -> cdk.App:
    made = cdk.App(outdir=outdir) if outdir else cdk.App()
    LayerConsumer(made, "python-layer-cdk-consumer")
    return made


if __name__ == "__main__":
    app().synth()
