import { readFileSync } from 'node:fs';

/**
 * Code blocks of a markdown file, with the `<!-- doc-test: ... -->` marker on
 * the line before the opening fence (blank lines between are allowed):
 *
 *   (no marker)                          a complete module: type-checked as is
 *   <!-- doc-test: fragment NAME -->     type-checked after the preamble NAME (test/docs/preambles.ts),
 *                                        which declares what the fragment uses (app, drainer, req...)
 *   <!-- doc-test: program [key=value ...] [inflight] -->
 *                                        a whole program: type-checked, then run (see code-blocks.test.ts)
 *
 * Only ts/js blocks are code; every other fence must name its language (sh,
 * mermaid, yaml, http, promql, text) and is not checked.
 */
export interface CodeBlock {
  /** Repository-relative path of the markdown file. */
  doc: string;
  /** 1-based line of the first line of code (after the fence). */
  line: number;
  lang: string;
  code: string;
  kind: 'module' | 'fragment' | 'program';
  preamble: string | undefined;
  /** program options: path, status, exit; flag inflight. */
  options: Record<string, string | true>;
  /** CommonJS (a js block using require/module.exports and no import). */
  commonjs: boolean;
}

export const CODE_LANGS = new Set(['ts', 'js']);
export const OTHER_LANGS = new Set(['sh', 'mermaid', 'yaml', 'http', 'promql', 'text', 'json']);

export function extractBlocks(root: string, doc: string): { blocks: CodeBlock[]; problems: string[] } {
  const lines = readFileSync(`${root}${doc}`, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  const problems: string[] = [];
  let marker: { text: string; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const m = /^<!--\s*doc-test:\s*(.*?)\s*-->$/.exec(text);
    if (m) {
      marker = { text: m[1]!, line: i + 1 };
      continue;
    }
    const fence = /^(`{3,})(.*)$/.exec(text);
    if (!fence) {
      if (text.trim() !== '') marker = undefined;
      continue;
    }
    const lang = fence[2]!.trim();
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== fence[1]) end++;
    if (end === lines.length) problems.push(`${doc}:${i + 1}: unclosed code fence`);
    const code = `${lines.slice(start, end).join('\n')}\n`;
    i = end;
    const where = `${doc}:${start}`;
    if (!CODE_LANGS.has(lang)) {
      if (!OTHER_LANGS.has(lang)) problems.push(`${where}: a fence must name its language (ts, js, or one of ${[...OTHER_LANGS].join(', ')}), got "${lang}"`);
      if (marker) problems.push(`${doc}:${marker.line}: doc-test marker before a ${lang || 'plain'} block`);
      marker = undefined;
      continue;
    }
    const words = marker ? marker.text.split(/\s+/) : ['module'];
    marker = undefined;
    const kind = words[0];
    if (kind !== 'module' && kind !== 'fragment' && kind !== 'program') {
      problems.push(`${where}: unknown doc-test kind "${kind}" (module, fragment NAME, program)`);
      continue;
    }
    let preamble: string | undefined;
    const options: Record<string, string | true> = {};
    for (const word of words.slice(1)) {
      const kv = /^(\w+)=(.*)$/.exec(word);
      if (kv) options[kv[1]!] = kv[2]!;
      else if (kind === 'fragment' && preamble === undefined) preamble = word;
      else options[word] = true;
    }
    if (kind === 'fragment' && !preamble) problems.push(`${where}: "fragment" needs a preamble name`);
    const commonjs = lang === 'js' && /\brequire\(|module\.exports/.test(code) && !/^import\s/m.test(code);
    blocks.push({ doc, line: start + 1, lang, code, kind, preamble, options, commonjs });
  }
  return { blocks, problems };
}
