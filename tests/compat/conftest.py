"""The compatibility tests; invokeai_suite/ holds stand-ins for running InvokeAI's own test
module in a scratch folder (see its run.sh), not tests of this repository."""

collect_ignore = ["invokeai_suite"]
