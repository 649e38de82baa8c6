import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { DrainerOptions } from '@drainkit/core';

/** What `DrainModule.forRoot()` takes: the core drainer's options, passed to `createDrainer` as they are. */
export type DrainModuleOptions = DrainerOptions;

/**
 * The injection token of the resolved options. Namespaced, so it cannot clash
 * with another library's options; a registered symbol, so the CommonJS and the
 * ESM build of this package agree on it.
 */
export const DRAIN_MODULE_OPTIONS: unique symbol = Symbol.for('@drainkit/nestjs:DRAIN_MODULE_OPTIONS');

// Built the way @nestjs/cache-manager builds its module: forRoot / forRootAsync,
// with `isGlobal` as an extra that never reaches the options object.
const builder = new ConfigurableModuleBuilder<DrainModuleOptions>({ moduleName: 'Drain', optionsInjectionToken: DRAIN_MODULE_OPTIONS })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createDrainOptions')
  .setExtras<{ isGlobal?: boolean }>({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal ?? false }))
  .build();

// Not destructured: OPTIONS_TYPE and ASYNC_OPTIONS_TYPE are type-only getters that throw when read.
export const ConfigurableDrainModule = builder.ConfigurableModuleClass;

/** `forRoot()`'s argument: the drainer options plus `isGlobal`. */
export type DrainModuleRootOptions = typeof builder.OPTIONS_TYPE;
/** `forRootAsync()`'s argument: `imports`, `inject`, `useFactory` | `useClass` | `useExisting`, `isGlobal`. */
export type DrainModuleAsyncOptions = typeof builder.ASYNC_OPTIONS_TYPE;

/** What a `useClass` / `useExisting` options provider implements. */
export interface DrainOptionsFactory {
  createDrainOptions(): DrainModuleOptions | Promise<DrainModuleOptions>;
}
