import { jobStateMachineName, type WorkflowJobName } from "../../infra/jobs";
import { ofType } from "../infra/mocks";
import { testConfig } from "../infra/stack-config";
import { runStack, type StackRun } from "../infra/stack-run";

let stack: Promise<StackRun> | undefined;

/**
 * The Amazon States Language definition of a job's workflow exactly as the Pulumi program deploys it (the
 * `definition` input of its aws.sfn.StateMachine, from the whole program run once under the Pulumi mocks
 * with the prod stack file), for `runJobWorkflow`.
 */
export async function deployedWorkflowDefinition(job: WorkflowJobName): Promise<string> {
  stack ??= runStack();
  const name = jobStateMachineName(testConfig().appName, job);
  const machine = ofType((await stack).resources, "aws:sfn/stateMachine:StateMachine").find(
    (resource) => resource.inputs.name === name,
  );
  if (!machine) throw new Error(`the program deploys no state machine named ${name}`);
  return machine.inputs.definition as string;
}
