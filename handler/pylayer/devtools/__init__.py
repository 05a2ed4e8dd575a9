"""Developer tools on the build engine (python -m handler): never shipped to Lambda."""
