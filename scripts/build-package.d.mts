// Types for the parts of build-package.mjs that test/packaging imports.
export declare function manifestFields(entryPoints: string[]): {
  fields: { main: string; module: string; types: string; exports: Record<string, unknown>; files: string[] };
  stubs: Record<string, { main: string; module: string; types: string }>;
};
export declare function build(dir: string): Promise<void>;
