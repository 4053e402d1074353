"""Run moto in server mode as a separate local process (the AWS API emulator of the deploy tests).

Usage: ``python moto_server.py PORT``. One fix is applied to the emulator before it starts:
moto 5.2 builds a stack's outputs when the stack object is created, and a stack created through a
CREATE change set is created *empty* (``REVIEW_IN_PROGRESS``), so after ``ExecuteChangeSet`` it
reports no outputs at all; updates keep stale ones. Real CloudFormation evaluates outputs after
every execution, which is what the patch below restores (nothing else is changed).
"""

from __future__ import annotations

import sys


def _patch_change_set_outputs() -> None:
    from moto.cloudformation import models

    original_apply = models.ChangeSet.apply

    def apply(self) -> None:
        original_apply(self)
        stack = self.stack
        stack.template = self.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    models.ChangeSet.apply = apply


def main() -> None:
    port = sys.argv[1]
    _patch_change_set_outputs()
    from moto.server import main as moto_main

    moto_main(["--host", "127.0.0.1", "--port", port])


if __name__ == "__main__":
    main()
