/**
 * Timing and wrapping helpers shared by the metric types: one mechanism serves both the
 * higher-order wrapper form (`const run = h.time(job)`) and TC39 method decorators
 * (`@h.time()`), for sync and async functions alike.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
export type AnyFunction = (this: any, ...args: any[]) => any;

/**
 * What `time()`, `trackInProgress()` and `countExceptions()` return when called without a
 * function: usable as a TC39 method decorator (`@h.time()`) or called on a function to wrap it.
 */
export type FunctionWrapper = <F extends (...args: never[]) => unknown>(
  fn: F,
  context?: ClassMethodDecoratorContext,
) => F;

/** Hooks run around each call of a wrapped function. */
export interface CallHooks {
  /** Runs just before each call. */
  readonly before?: () => void;
  /**
   * Runs once the call has returned, thrown, or (for a promise) settled. `seconds` comes from
   * the monotonic clock.
   */
  readonly after: (seconds: number, failed: boolean, error: unknown) => void;
}

/** Seconds from a monotonic clock (never jumps with wall-clock changes). */
export function monotonicSeconds(): number {
  return performance.now() / 1000;
}

/**
 * Wraps `fn` so that `hooks` run around every call. Promises returned by `fn` are followed
 * until they settle, and the wrapper returns the same promise outcome.
 */
export function wrapCall<F extends AnyFunction>(fn: F, hooks: CallHooks): F {
  if (typeof fn !== "function") {
    throw new TypeError(`expected a function to wrap, got ${typeof fn}`);
  }
  if (isClass(fn)) {
    // A wrapped class could no longer be constructed: every `new` would throw.
    throw new TypeError(
      `cannot wrap class ${fn.name || "(anonymous)"}: wrap a function or decorate a method`,
    );
  }
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    hooks.before?.();
    const start = monotonicSeconds();
    let result: unknown;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      hooks.after(monotonicSeconds() - start, true, error);
      throw error;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(
        (value) => {
          hooks.after(monotonicSeconds() - start, false, undefined);
          return value;
        },
        (error) => {
          hooks.after(monotonicSeconds() - start, true, error);
          throw error;
        },
      );
    }
    hooks.after(monotonicSeconds() - start, false, undefined);
    return result;
  };
  Object.defineProperty(wrapped, "name", { value: fn.name, configurable: true });
  return wrapped as F;
}

/** A wrapper/decorator that applies `hooks` to whatever function it is given. */
export function wrapperFor(hooks: CallHooks): FunctionWrapper {
  return <F extends AnyFunction>(fn: F, context?: ClassMethodDecoratorContext): F => {
    checkDecoratorTarget(context);
    return wrapCall(fn, hooks);
  };
}

/**
 * Refuses a decorator on anything but a method: a class, field, getter, setter or accessor
 * would otherwise be wrapped (or replaced) as if it were a function, silently breaking it.
 */
function checkDecoratorTarget(context: unknown): void {
  // Only a decorator context (an object with a `kind`) is checked: a second argument of another
  // shape, as `fns.map(h.time())` passes, is not a decorator call.
  if (context === null || typeof context !== "object") return;
  const { kind, name } = context as { kind?: unknown; name?: unknown };
  if (kind === "method" || typeof kind !== "string") return;
  throw new TypeError(
    `the timing and counting decorators apply to methods only, not to a ${kind}${
      typeof name === "string" ? ` ("${name}")` : ""
    }`,
  );
}

/** Whether `fn` is a class (which cannot be called without `new`). */
function isClass(fn: AnyFunction): boolean {
  return Function.prototype.toString.call(fn).startsWith("class");
}

/** Starts a monotonic stopwatch; the returned function gives seconds elapsed and calls `done`. */
export function startStopwatch(done: (seconds: number) => void): () => number {
  const start = monotonicSeconds();
  return () => {
    const seconds = monotonicSeconds() - start;
    done(seconds);
    return seconds;
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}
