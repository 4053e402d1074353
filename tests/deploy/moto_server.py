"""Run moto in server mode as a separate local process (the AWS API emulator of the deploy tests).

Usage: ``python moto_server.py PORT``. Two moto 5.2 CloudFormation bugs are fixed before it starts,
each restoring what real CloudFormation does (nothing else is changed):

1. Outputs after a change set: moto builds a stack's outputs when the stack object is created, and a
   stack created through a CREATE change set is created *empty* (``REVIEW_IN_PROGRESS``), so after
   ``ExecuteChangeSet`` it reports no outputs at all (and updates keep stale ones).
2. Conditions on update: moto's update path re-parses every resource that references a changed
   parameter, including resources whose ``Condition`` is false and that were never created, and
   fails on their ``GetAtt`` of other never-created resources. CloudFormation leaves them alone.
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


def _patch_update_skips_inactive_resources() -> None:
    from moto.cloudformation import parsing

    original_diff = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = original_diff(self, other_template, parameters)

        def active(name: str) -> bool:
            condition = other_template.get("Resources", {}).get(name, {}).get("Condition")
            if not condition:
                return True
            try:
                return bool(self.lazy_condition_map[condition])
            except KeyError:
                return True

        diff["Modify"] = [name for name in diff["Modify"] if active(name)]
        return diff

    parsing.ResourceMap.build_resource_diff = build_resource_diff


def main() -> None:
    port = sys.argv[1]
    _patch_change_set_outputs()
    _patch_update_skips_inactive_resources()
    from moto.server import main as moto_main

    moto_main(["--host", "127.0.0.1", "--port", port])


if __name__ == "__main__":
    main()
