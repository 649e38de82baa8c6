import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { DrainError, DrainErrorCodes } from '@drainkit/core';
import type { DrainerOptions } from '@drainkit/core';
import { DrainErrorFilter } from './drain-error.filter.js';

/** What `DrainModule.forRoot()` takes: the core drainer's options, passed to `createDrainer` as they are. */
export type DrainModuleOptions = DrainerOptions;

/**
 * The injection token of the resolved options. Namespaced, so it cannot clash
 * with another library's options; a registered symbol, so the CommonJS and the
 * ESM build of this package agree on it.
 */
export const DRAIN_MODULE_OPTIONS: unique symbol = Symbol.for('@drainkit/nestjs:DRAIN_MODULE_OPTIONS');

/** Module options that shape the module itself; they never reach the drainer. */
export interface DrainModuleExtras {
  /** Make DrainService injectable everywhere without importing DrainModule again. Default false. */
  isGlobal?: boolean;
  /** Register DrainErrorFilter as an application-wide filter (APP_FILTER): DrainErrors answer 404/400/503 instead of 500. Default false. */
  errorFilter?: boolean;
}

// Built the way @nestjs/cache-manager builds its module: forRoot / forRootAsync,
// with extras (`isGlobal`, `errorFilter`) that never reach the options object.
const builder = new ConfigurableModuleBuilder<DrainModuleOptions>({ moduleName: 'Drain', optionsInjectionToken: DRAIN_MODULE_OPTIONS })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createDrainOptions')
  .setExtras<DrainModuleExtras>({ isGlobal: false, errorFilter: false }, applyExtras)
  .build();

function applyExtras(definition: DynamicModule, extras: DrainModuleExtras): DynamicModule {
  for (const key of ['isGlobal', 'errorFilter'] as const) {
    const value: unknown = extras[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "${key}" of DrainModule: expected a boolean, got ${typeof value}`);
    }
  }
  // An APP_FILTER provider, as Nest's docs bind a global filter that needs injection (HttpAdapterHost).
  const providers = extras.errorFilter ? [...(definition.providers ?? []), { provide: APP_FILTER, useClass: DrainErrorFilter }] : definition.providers;
  return { ...definition, global: extras.isGlobal ?? false, providers };
}

// Not destructured: OPTIONS_TYPE and ASYNC_OPTIONS_TYPE are type-only getters that throw when read.
export const ConfigurableDrainModule = builder.ConfigurableModuleClass;

/** `forRoot()`'s argument: the drainer options plus `isGlobal` and `errorFilter`. */
export type DrainModuleRootOptions = typeof builder.OPTIONS_TYPE;
/** `forRootAsync()`'s argument: `imports`, `inject`, `useFactory` | `useClass` | `useExisting`, `isGlobal`, `errorFilter`. */
export type DrainModuleAsyncOptions = typeof builder.ASYNC_OPTIONS_TYPE;

/** What a `useClass` / `useExisting` options provider implements. */
export interface DrainOptionsFactory {
  createDrainOptions(): DrainModuleOptions | Promise<DrainModuleOptions>;
}
