/**
 * Shared by the deploy tests: reading CloudFormation YAML (with its short-form intrinsic tags), and
 * deriving from the source which AWS API calls the code makes, so the IAM policy cannot drift from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { parse, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';

export const REPO = path.resolve(__dirname, '..', '..');
export const DEPLOY = path.join(REPO, 'deploy');

// ---------------------------------------------------------------------------------------------
// CloudFormation YAML

const INTRINSICS = [
  'Ref',
  'Condition',
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'ImportValue',
  'Join',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
];

function fnKey(name: string): string {
  return name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
}

/** `!Ref X` → `{ Ref: 'X' }`, `!GetAtt A.B` → `{ 'Fn::GetAtt': ['A', 'B'] }`, `!Sub [..]` → `{ 'Fn::Sub': [..] }`. */
const CFN_TAGS: (ScalarTag | CollectionTag)[] = INTRINSICS.flatMap((name) => [
  {
    tag: `!${name}`,
    resolve: (value: string) => ({ [fnKey(name)]: name === 'GetAtt' ? value.split('.') : value }),
  } satisfies ScalarTag,
  {
    tag: `!${name}`,
    collection: 'seq',
    resolve: (value: YAMLSeq.Parsed | YAMLMap.Parsed) => ({ [fnKey(name)]: value.toJSON() as unknown }),
  } satisfies CollectionTag,
  {
    tag: `!${name}`,
    collection: 'map',
    resolve: (value: YAMLSeq.Parsed | YAMLMap.Parsed) => ({ [fnKey(name)]: value.toJSON() as unknown }),
  } satisfies CollectionTag,
]);

export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Parameters: Record<string, { Type: string; Default?: unknown; AllowedPattern?: string }>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export function readTemplate(file = path.join(DEPLOY, 'cloudformation.yaml')): CfnTemplate {
  return parse(fs.readFileSync(file, 'utf8'), { customTags: CFN_TAGS, strict: true, uniqueKeys: true }) as CfnTemplate;
}

/**
 * Resolves `Ref` and `Fn::Sub` (string form) against fixed names, so a statement of the template can
 * be compared with the same statement of deploy/iam-policy.json. Anything else is an error.
 */
export function resolveIntrinsics(value: unknown, names: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, names));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const lookup = (name: string) => {
    const resolved = names[name];
    if (resolved === undefined) throw new Error(`no value to resolve '${name}' with; add it to the names`);
    return resolved;
  };
  if (keys.length === 1 && keys[0] === 'Ref') return lookup(obj.Ref as string);
  if (keys.length === 1 && keys[0] === 'Fn::Sub') {
    if (typeof obj['Fn::Sub'] !== 'string') throw new Error('only the string form of Fn::Sub is resolved here');
    return obj['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_, name: string) => lookup(name));
  }
  if (keys.some((k) => k.startsWith('Fn::'))) throw new Error(`cannot resolve ${keys.join(', ')} here`);
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(obj[k], names)]));
}

// ---------------------------------------------------------------------------------------------
// IAM policy documents

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

export const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** Every (action, resource) pair a policy allows, as 'action @ resource'. */
export function allowedPairs(policy: PolicyDocument): Set<string> {
  const pairs = new Set<string>();
  for (const s of policy.Statement) {
    if (s.Effect !== 'Allow') continue;
    for (const a of asList(s.Action)) for (const r of asList(s.Resource)) pairs.add(`${a} @ ${r}`);
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// AWS calls in the source

export const AWS_PACKAGES = [
  '@aws-sdk/client-s3',
  '@aws-sdk/client-glue',
  '@aws-sdk/client-athena',
  '@aws-sdk/lib-storage',
];

export interface AwsCall {
  /** '@aws-sdk/client-s3', ... */
  pkg: string;
  /** The API operation: 'PutObject', 'ListObjectsV2' (also for its paginator), or 'Upload' (lib-storage). */
  operation: string;
  /** How it is called: `new XCommand(`, `paginateX(`, or `new Upload(`. */
  via: 'command' | 'paginator' | 'upload';
  /** 'src/adapters/s3.ts:48' */
  where: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/**
 * `const { S3Client } = require('@aws-sdk/client-s3') as typeof import(...)`: a client loaded on first
 * use (src/adapters/aws.ts). A client class calls no operation by itself, so the scan loses nothing.
 */
function requiresClientsOnly(call: ts.CallExpression): boolean {
  let node: ts.Node = call.parent;
  while (ts.isAsExpression(node) || ts.isParenthesizedExpression(node)) node = node.parent;
  if (!ts.isVariableDeclaration(node) || !ts.isObjectBindingPattern(node.name)) return false;
  return node.name.elements.every((el) => {
    const name = el.propertyName ?? el.name;
    return ts.isIdentifier(name) && /^[A-Z]\w*Client$/.test(name.text);
  });
}

/**
 * Every AWS API call made from the given folders, found in the syntax tree: value imports from the
 * AWS SDK packages and their uses. Throws on any form this scan cannot follow (a namespace or
 * default import, a `require` of anything but client classes, a re-export, a command class used
 * other than with `new`, a waiter, an unknown AWS package), so a new call can never slip past the
 * policy test unseen.
 */
export function scanAwsCalls(dirs: string[]): AwsCall[] {
  const calls: AwsCall[] = [];
  const problems: string[] = [];
  for (const file of dirs.flatMap((d) => sourceFiles(path.resolve(REPO, d)))) {
    const text = fs.readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const rel = file.startsWith(REPO + path.sep) ? path.relative(REPO, file) : file;
    const where = (node: ts.Node) => `${rel}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
    /** local name → imported name and package, for value imports from AWS packages. */
    const bindings = new Map<string, { imported: string; pkg: string }>();

    for (const stmt of sf.statements) {
      const spec =
        (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) &&
        stmt.moduleSpecifier &&
        ts.isStringLiteral(stmt.moduleSpecifier)
          ? stmt.moduleSpecifier.text
          : undefined;
      if (!spec?.startsWith('@aws-sdk/')) continue;
      if (ts.isExportDeclaration(stmt)) {
        if (!stmt.isTypeOnly) problems.push(`${where(stmt)}: re-export from ${spec}; import and call it here instead`);
        continue;
      }
      const clause = (stmt as ts.ImportDeclaration).importClause;
      if (!clause || clause.isTypeOnly) continue;
      if (!AWS_PACKAGES.includes(spec)) {
        problems.push(
          `${where(stmt)}: imports ${spec}, which the IAM policy test does not know; add it to AWS_PACKAGES and its operations to the mapping`,
        );
      }
      if (clause.name) problems.push(`${where(stmt)}: default import from ${spec}; use named imports`);
      const named = clause.namedBindings;
      if (named && ts.isNamespaceImport(named)) {
        problems.push(`${where(stmt)}: namespace import from ${spec}; use named imports so the scan sees each command`);
      } else if (named) {
        for (const el of named.elements) {
          if (el.isTypeOnly) continue;
          bindings.set(el.name.text, { imported: (el.propertyName ?? el.name).text, pkg: spec });
        }
      }
    }

    const visit = (node: ts.Node): void => {
      if (
        ts.isCallExpression(node) &&
        (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
          (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0]) &&
        node.arguments[0].text.startsWith('@aws-sdk/') &&
        !requiresClientsOnly(node)
      ) {
        problems.push(
          `${where(node)}: dynamic import or require of ${node.arguments[0].text}; use a static named import`,
        );
      }
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
        const name = node.expression.text;
        if (!bindings.has(name) && /.Command$/.test(name)) {
          problems.push(
            `${where(node)}: new ${name}( is not imported from an AWS SDK package by name; import it from its client package`,
          );
        }
      }
      if (ts.isIdentifier(node) && bindings.has(node.text) && !ts.isImportSpecifier(node.parent)) {
        const { imported, pkg } = bindings.get(node.text)!;
        const parent = node.parent;
        const isNew = ts.isNewExpression(parent) && parent.expression === node;
        const isCall = ts.isCallExpression(parent) && parent.expression === node;
        if (/Command$/.test(imported)) {
          if (isNew)
            calls.push({ pkg, operation: imported.replace(/Command$/, ''), via: 'command', where: where(node) });
          else
            problems.push(
              `${where(node)}: ${imported} used other than in 'new ${imported}(...)'; the scan cannot follow it`,
            );
        } else if (imported.startsWith('paginate')) {
          if (isCall)
            calls.push({ pkg, operation: imported.slice('paginate'.length), via: 'paginator', where: where(node) });
          else problems.push(`${where(node)}: ${imported} used other than called; the scan cannot follow it`);
        } else if (/^waitUntil|^waitFor/.test(imported)) {
          problems.push(
            `${where(node)}: waiter ${imported}; add the operation it polls to the IAM mapping and to this scan`,
          );
        } else if (pkg === '@aws-sdk/lib-storage' && imported === 'Upload') {
          if (isNew) calls.push({ pkg, operation: 'Upload', via: 'upload', where: where(node) });
          else problems.push(`${where(node)}: Upload used other than in 'new Upload(...)'`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  if (problems.length > 0) throw new Error(`the AWS call scan cannot follow:\n  ${problems.join('\n  ')}`);
  return calls;
}

// ---------------------------------------------------------------------------------------------
// systemd units

/** Sections → key → values (a key may repeat, e.g. Environment=). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      if (sections.has(section[1])) throw new Error(`line ${i + 1}: section [${section[1]}] twice`);
      current = new Map();
      sections.set(section[1], current);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`line ${i + 1}: not 'Key=value' inside a section: ${line}`);
    current.set(kv[1], [...(current.get(kv[1]) ?? []), kv[2]]);
  });
  return sections;
}
