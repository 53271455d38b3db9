import { PolicyPack } from "@pulumi/policy";
import { RULES } from "./rules";

// `pulumi preview --policy-pack policy` (or `up`) fails when any rule reports a violation.
new PolicyPack("atlas-ops", {
  enforcementLevel: "mandatory",
  policies: RULES.map(({ name, description, rule, enforcementLevel }) => ({
    name,
    description,
    enforcementLevel: enforcementLevel ?? "mandatory",
    validateStack: (args, reportViolation) => {
      const resources = args.resources.map((r) => ({
        type: r.type,
        urn: r.urn,
        name: r.name,
        props: r.props,
      }));
      for (const violation of rule(resources)) reportViolation(violation.message, violation.urn);
    },
  })),
});
