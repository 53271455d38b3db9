import aslValidator from "asl-validator";
import { StateMachine } from "aws-local-stepfunctions";
import { beforeAll, describe, expect, it } from "vitest";
import { THROTTLE_RETRY, WORKFLOW_STATES, WORKFLOW_TIMEOUT_SECONDS } from "../../infra/job-workflow";
import { JOB_SIZING, WORKFLOW_JOBS, type WorkflowJobName } from "../../infra/jobs";
import { RUN_RETRIES } from "../../infra/scheduled-job";
import { deployedWorkflowDefinition } from "../support/deployed-workflow";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Definition = Record<string, any>;
const deployed = {} as Record<WorkflowJobName, string>;
beforeAll(async () => {
  for (const job of WORKFLOW_JOBS) deployed[job] = await deployedWorkflowDefinition(job);
});
const parsed = (job: WorkflowJobName): Definition => JSON.parse(deployed[job]) as Definition;

describe("the job workflows' definitions, as the program deploys them", () => {
  it.each(WORKFLOW_JOBS)("%s follows the Amazon States Language rules (asl-validator)", (job) => {
    const result = aslValidator(parsed(job), { checkArn: true, checkPaths: true });
    expect(result.errorsText()).toBe("");
    expect(result.isValid).toBe(true);
  });

  it.each(WORKFLOW_JOBS)("%s is accepted by the local Step Functions the driver runs", (job) => {
    expect(
      () =>
        new StateMachine(parsed(job) as never, { validationOptions: { checkArn: true, checkPaths: true } }),
    ).not.toThrow();
  });

  it("names the states the driver plugs handlers into", () => {
    for (const job of WORKFLOW_JOBS) {
      expect(Object.keys(parsed(job).States)).toEqual(expect.arrayContaining(Object.values(WORKFLOW_STATES)));
    }
  });

  it("stays far below the 1 MB definition limit and runs at most a day", () => {
    for (const job of WORKFLOW_JOBS) {
      expect(deployed[job].length).toBeLessThan(16 * 1024);
      expect(parsed(job).TimeoutSeconds).toBe(WORKFLOW_TIMEOUT_SECONDS);
    }
  });

  it("gives a step a minute longer than its Lambda's timeout, and retries a failed step as often as before", () => {
    for (const job of WORKFLOW_JOBS) {
      const step = parsed(job).States[WORKFLOW_STATES.step];
      expect(step.TimeoutSeconds).toBe(JOB_SIZING[job].timeoutSeconds + 60);
      const retries = step.Retry as Definition[];
      // Retriers are tried in order and the first match decides: the catch-all must come last.
      expect(retries.at(-1)).toMatchObject({ ErrorEquals: ["States.ALL"], MaxAttempts: RUN_RETRIES[job] });
      expect(retries[0]).toEqual(THROTTLE_RETRY);
    }
  });

  it("lets a run that meets another's reserved concurrency wait for hours instead of failing", () => {
    let waited = 0;
    for (let attempt = 0; attempt < THROTTLE_RETRY.MaxAttempts; attempt++) {
      waited += Math.min(
        THROTTLE_RETRY.IntervalSeconds * THROTTLE_RETRY.BackoffRate ** attempt,
        THROTTLE_RETRY.MaxDelaySeconds,
      );
    }
    expect(waited / 3600).toBeGreaterThan(6);
    for (const job of WORKFLOW_JOBS) {
      for (const state of [WORKFLOW_STATES.step, WORKFLOW_STATES.abandon]) {
        expect(parsed(job).States[state].Retry[0]).toEqual(THROTTLE_RETRY);
      }
    }
  });
});
