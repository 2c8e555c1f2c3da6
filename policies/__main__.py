"""The persistent-binderhub policy pack: `pulumi preview --policy-pack policies` (make preview and
make up pass it, with the stack's configuration from python -m tools.policy --config STACK).

Every rule is a stack validation built from the one list in rules/, which the offline checker
(python -m tools.policy) runs too. A stack downgrades a mandatory rule in its settings
(persistent-binderhub:policy: downgrade:), which reaches the pack as that rule's configuration:
`enforcementLevel: advisory` and the `reason`, shown with every violation.
"""

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, PolicyPack, StackValidationPolicy
from rules import RULES, Resource, Rule, Stack, message_of, stack_name


def as_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args, report_violation) -> None:
        config = args.get_config()
        resources = tuple(Resource(r.resource_type, r.name, r.urn, r.props, bool(r.opts.protect), r.opts.parent)
                          for r in args.resources)
        stack = Stack(stack_name(r.urn for r in resources), resources)
        for violation in rule.violations(stack, config):
            report_violation(message_of(rule, violation, config), violation.urn)

    return StackValidationPolicy(
        name=rule.name, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel.ADVISORY if rule.advisory else EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={"reason": {"type": "string"}, **rule.config_properties}))


PolicyPack(name="persistent-binderhub", enforcement_level=EnforcementLevel.MANDATORY,
           policies=[as_policy(rule) for rule in RULES])
