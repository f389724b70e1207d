/**
 * Failure types of the workflows themselves (not of their activities). Constants only: imported by
 * workflows (the sandbox) and clients alike.
 */

/**
 * A workflow's input or a signal's payload does not have the expected shape (an empty Start Workflow
 * form in the Web UI, a hand-written `temporal workflow start --input`). The workflow fails at once,
 * with a message saying what was expected.
 */
export const INVALID_WORKFLOW_INPUT = 'InvalidWorkflowInput';
