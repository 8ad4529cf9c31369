/** Types of the browser runtime of the expression language (runtime.js; see its docstring). */
export type Compiled = (record: Record<string, unknown>, ctx: unknown) => unknown;
export function compile(source: string): Compiled;
export function makeContext(options?: {
  now?: number | string | null;
  tz?: string;
  user?: number | string | null;
  departments?: Array<number | string>;
}): unknown;
export function encode(value: unknown, kind?: string): unknown;
