"""Local stand-ins for AWS and CloudFormation, shared by the tests and `make demo`."""
