// Type-checks files of a user's project with the TypeScript compiler API, reporting diagnostics of the user's
// files and (with skipLibCheck off) of mlops-constructs' declarations only: other packages' declarations are not
// this library's to fix.
import * as ts from 'typescript';

export interface TypeCheckRequest {
  readonly root: string;
  readonly files: string[];
  readonly compilerOptions: Record<string, unknown>;
}

// Parsed declarations of node_modules, shared by every check in this process (as TypeScript's language service
// shares them between projects): the first check reads aws-cdk-lib's ~3,000 declaration files (about 10 s), later
// checks take well under a second. The key holds what parsing depends on.
const parsed = new Map<string, ts.SourceFile | undefined>();
// One compiler host and last program per set of options, so a later check reuses the program's structure.
const compilers = new Map<string, { host: ts.CompilerHost; program?: ts.Program }>();

export function typeCheck(request: TypeCheckRequest): string[] {
  const { root, files, compilerOptions } = request;
  const converted = ts.convertCompilerOptionsFromJson(compilerOptions, root);
  const formatHost: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  if (converted.errors.length > 0) throw new Error(ts.formatDiagnostics(converted.errors, formatHost));
  const options = { ...converted.options, noEmit: true };
  const key = JSON.stringify([root, compilerOptions]);
  let compiler = compilers.get(key);
  if (!compiler) {
    const host = ts.createCompilerHost(options);
    const read = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
      if (!fileName.includes('/node_modules/')) return read(fileName, languageVersion, onError, shouldCreate);
      const settings = typeof languageVersion === 'object' ? [languageVersion.languageVersion, languageVersion.impliedNodeFormat] : [languageVersion];
      const cacheKey = JSON.stringify([fileName, ...settings, options.moduleDetection]);
      if (!parsed.has(cacheKey)) parsed.set(cacheKey, read(fileName, languageVersion, onError, shouldCreate));
      return parsed.get(cacheKey);
    };
    compiler = { host };
    compilers.set(key, compiler);
  }
  const program = ts.createProgram({ rootNames: files, options, host: compiler.host, oldProgram: compiler.program });
  compiler.program = program;
  const ours = (f: ts.SourceFile) => files.includes(f.fileName)
    || (compilerOptions.skipLibCheck === false && f.fileName.includes('/node_modules/mlops-constructs/'));
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSourceFiles().filter(ours).flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
  ];
  return diagnostics.map((d) => ts.formatDiagnostic(d, formatHost).trim());
}
