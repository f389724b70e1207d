/**
 * Checks of what reaches a workflow from outside: its input (the Web UI's Start Workflow form, the
 * Temporal CLI, a schedule) and its signal payloads. A workflow that reads a field of `undefined` fails
 * its workflow task, and Temporal retries that task forever: the workflow stays Running and does
 * nothing. A failed check instead fails the workflow at once with the non-retryable
 * `InvalidWorkflowInput`, whose message says what was expected.
 *
 * Pure and deterministic: safe in the workflow sandbox.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { INVALID_WORKFLOW_INPUT } from '../src/errors/workflow';

type Check = (value: unknown) => string | undefined;

export const nonEmptyString: Check = (v) =>
  typeof v === 'string' && v.trim().length > 0 ? undefined : 'a non-empty string';
export const positiveNumber: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? undefined : 'a number greater than 0';
export const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
export const stringArray: Check = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'an array of strings';
export const object: Check = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'an object';
export const oneOf =
  (...values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `one of ${values.map((s) => `'${s}'`).join(', ')}`;

export function isRecord(v: unknown): v is Record<string, never> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Fields of an input: each with its check, and whether it may be left out. */
export type Shape = Record<string, { check: Check; optional?: boolean }>;

export const required = (check: Check) => ({ check });
export const optional = (check: Check) => ({ check, optional: true });

/** A short JSON sketch of an input of this shape, for messages (`{"file": string, "topic": string, ...}`). */
function sketch(shape: Shape): string {
  return `{ ${Object.entries(shape)
    .filter(([, f]) => !f.optional)
    .map(([k]) => `"${k}": ...`)
    .join(', ')} }`;
}

/** Problems with a value against a shape; empty when it fits. */
export function problems(value: unknown, shape: Shape): string[] {
  if (object(value)) return [`expected an object ${sketch(shape)}, got ${describe(value)}`];
  const v = value as Record<string, unknown>;
  const out: string[] = [];
  for (const [key, field] of Object.entries(shape)) {
    if (v[key] === undefined || v[key] === null) {
      if (!field.optional) out.push(`'${key}' is missing (expected ${field.check(undefined) ?? 'a value'})`);
      continue;
    }
    const problem = field.check(v[key]);
    if (problem) out.push(`'${key}' must be ${problem}, got ${describe(v[key])}`);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${typeof v} ${text.slice(0, 57)}...` : text;
}

/**
 * Fails the workflow (not its task) with a non-retryable `InvalidWorkflowInput` when `value` does not
 * fit `shape`. `what` names the input in the message: "sinkWorkflow input".
 */
export function checkInput(what: string, value: unknown, shape: Shape, hint?: string): void {
  const found = problems(value, shape);
  if (found.length === 0) return;
  throw ApplicationFailure.create({
    message: `${what}: ${found.join('; ')}${hint ? `. ${hint}` : ''}`,
    type: INVALID_WORKFLOW_INPUT,
    nonRetryable: true,
  });
}
