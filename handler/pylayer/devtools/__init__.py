"""Developer tools on the build engine (the pylayer command): never shipped to Lambda."""
