import { AsyncResource } from 'node:async_hooks';

/**
 * Since Node 20, `AsyncResource.prototype.bind` gives every bound function a deprecated
 * `asyncResource` accessor (DEP0172) made of two `util.deprecate()` wrappers, and node:http2's
 * client `request()` binds one function per request. Building those wrappers (closures, a
 * prototype change, a lazily created `.prototype` object, defineProperties) cost ~6 µs per
 * upstream request in our profiles, about 5% of the gateway's CPU per streamed completion
 * (still so in Node 22 and 24). This replaces `bind` with the same behaviour minus the deprecated
 * property: the bound function runs `fn` in the resource's async scope, with the call's `this`
 * unless `thisArg` was given. Nothing in the gateway reads `asyncResource` (reading it only
 * prints a deprecation warning anyway). Applied only when the running Node still has the
 * property, and only by `ghostwire serve`, which owns its process: embedding code is left alone.
 * Returns whether it was applied.
 */
export function skipDeprecatedBindAccessor(): boolean {
  // Called through Reflect.apply with the resource as `this`, never detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = AsyncResource.prototype.bind;
  const probe = new AsyncResource('ghostwire-probe').bind(function probe() {});
  if (Object.getOwnPropertyDescriptor(probe, 'asyncResource')?.get === undefined) return false;
  type Fn = (this: unknown, ...args: unknown[]) => unknown;
  const bind = function bind(this: AsyncResource, fn: Fn, thisArg?: unknown): Fn {
    if (typeof fn !== 'function') return Reflect.apply(original, this, [fn, thisArg]) as Fn; // Node's own error
    // The inner function needs both the resource and the call's own `this`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const resource = this;
    return thisArg === undefined
      ? function (this: unknown, ...args: unknown[]): unknown {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : function (...args: unknown[]): unknown {
          return resource.runInAsyncScope(fn, thisArg, ...args);
        };
  };
  AsyncResource.prototype.bind = bind as typeof original;
  return true;
}
