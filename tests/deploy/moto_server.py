"""Run moto in server mode as a separate local process (the AWS API emulator of the deploy tests).

Usage: ``python moto_server.py PORT``. Five moto 5.2 CloudFormation bugs are fixed before it starts,
each restoring what real CloudFormation does (nothing else is changed):

1. Outputs and parameters after a change set: moto builds a stack's outputs when the stack object
   is created, and a stack created through a CREATE change set is created *empty*
   (``REVIEW_IN_PROGRESS``), so after ``ExecuteChangeSet`` it reports no outputs at all (and updates
   keep stale ones); it also keeps comparing later change sets with the first parameters, so an
   identical re-deploy after an update is not recognised as "no changes".
2. Conditions on update: moto's update path re-parses every resource that references a changed
   parameter, including resources whose ``Condition`` is false and that were never created, and
   fails on their ``GetAtt`` of other never-created resources. CloudFormation leaves them alone.
3. Route tables on delete: deleting ``AWS::EC2::RouteTable`` / ``SubnetRouteTableAssociation``
   is a no-op in moto's CloudFormation, so the VPC of any stack with its own route table can never
   be deleted ("has dependencies"). The patch deletes them as CloudFormation does.
4. ``TemplateURL`` on an emulator address: moto reads a path-style URL (``http://host/bucket/key``)
   only when the host is ``localhost``; for ``127.0.0.1`` it takes ``127`` for the bucket. The main
   template is larger than CloudFormation's inline limit, so ``deploy up`` uploads it and passes
   the URL, as it does on AWS; the patch reads any non-AWS host path-style.
5. ``Fn::GetAtt`` of a resource whose type moto's CloudFormation does not implement (it skips the
   resource) fails the whole stack ("references undefined resource"), so a role that names an
   ``AWS::EMRServerless::Application`` by its ARN could never be created. The patch returns a
   stand-in ARN (``arn:aws:moto-unsupported:<region>:<account>:<logical id>/<attribute>``) for
   such a resource only; a GetAtt of a resource missing from the template still fails.
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
        stack.parameters = self.parameters

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


def _patch_route_table_deletion() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.route_tables import RouteTable
    from moto.ec2.models.subnets import SubnetRouteTableAssociation

    def delete_association(self, account_id: str, region_name: str) -> None:
        route_table = ec2_backends[account_id][region_name].route_tables.get(self.route_table_id)
        if route_table is None:  # already gone with its table
            return
        for association_id, subnet_id in list(route_table._associations.items()):
            if subnet_id == self.subnet_id:
                route_table._associations.pop(association_id)

    def delete_route_table(self, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        if self.id in backend.route_tables:
            backend.delete_route_table(self.id)

    SubnetRouteTableAssociation.delete = delete_association
    RouteTable.delete = delete_route_table


def _patch_path_style_template_url() -> None:
    from urllib.parse import urlparse

    from moto.cloudformation import models, responses, utils

    original = utils.get_stack_from_s3_url

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        host = urlparse(template_url).hostname or ""
        if not host.endswith("amazonaws.com") and "localhost" not in template_url:
            parts = urlparse(template_url)
            template_url = parts._replace(netloc=f"localhost:{parts.port or 80}").geturl()
        return original(template_url, account_id=account_id, partition=partition)

    for module in (utils, models, responses):
        module.get_stack_from_s3_url = get_stack_from_s3_url


def _patch_getatt_of_unsupported_types() -> None:
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::GetAtt" in resource_json:
            name, attribute = resource_json["Fn::GetAtt"][:2]
            declared = getattr(resources_map, "_resource_json_map", {}).get(name) or {}
            rtype = declared.get("Type", "")
            if rtype and parsing.resource_class_from_type(rtype) is None:
                account, region = resources_map._account_id, resources_map._region_name
                return f"arn:aws:moto-unsupported:{region}:{account}:{name}/{attribute}"
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json


def main() -> None:
    port = sys.argv[1]
    _patch_change_set_outputs()
    _patch_update_skips_inactive_resources()
    _patch_route_table_deletion()
    _patch_path_style_template_url()
    _patch_getatt_of_unsupported_types()
    from moto.server import main as moto_main

    moto_main(["--host", "127.0.0.1", "--port", port])


if __name__ == "__main__":
    main()
