"""A stand-in package for running InvokeAI's download-queue tests on fetchq."""
