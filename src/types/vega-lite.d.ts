// vega-lite ships types that only resolve under node16/bundler module resolution; this is the part we use.
declare module 'vega-lite' {
  import type { Spec } from 'vega';
  export function compile(spec: Record<string, unknown>): { spec: Spec };
}
