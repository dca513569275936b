import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it, expect } from 'vitest';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { GraphFailureCodes } from '../../lib/graph/graph-failure.js';

const root = resolve(import.meta.dirname, '../..');
const README_MAX_LINES = 250;

/** The user docs: README.md, every docs/*.md, bench/README.md and emulator/README.md when it exists. */
function docFiles(): string[] {
  const docsDir = join(root, 'docs');
  const docs = readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(docsDir, name));
  return [join(root, 'README.md'), ...docs, join(root, 'bench/README.md'), join(root, 'emulator/README.md')].filter(
    (file) => existsSync(file),
  );
}

/** The lines outside fenced code blocks (``` or ~~~), each with its 1-based line number. */
function proseLines(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  markdown.split(/\r?\n/).forEach((text, index) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (fence === null && marker) {
      fence = marker;
      return;
    }
    if (fence !== null) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && text.trim() === marker) fence = null;
      return;
    }
    out.push({ line: index + 1, text });
  });
  return out;
}

/** GitHub's heading slug (github-slugger): lowercase, drop punctuation but '-' and '_', spaces to '-'. */
function githubSlug(heading: string): string {
  // Code spans keep their text (`<file>` is text there); elsewhere links and images keep their text
  // and inline HTML tags go.
  const text = heading
    .split(/(`+[^`]*`+)/)
    .map((part, i) =>
      i % 2 === 1
        ? part.replace(/^`+|`+$/g, '')
        : part.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, ''),
    )
    .join('');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Slugs of `headings` in order, numbered as GitHub numbers duplicates: `x`, `x-1`, `x-2`. */
function githubSlugs(headings: string[]): string[] {
  const seen = new Map<string, number>();
  return headings.map((heading) => {
    const base = githubSlug(heading);
    let slug = base;
    while (seen.has(slug)) {
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      slug = `${base}-${n}`;
    }
    seen.set(slug, 0);
    return slug;
  });
}

/** Every anchor a file offers: its headings' slugs and explicit `<a id="…">` / `<a name="…">`. */
function anchorsOf(markdown: string): Set<string> {
  const lines = proseLines(markdown);
  const headings = lines
    .map(({ text }) => /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text)?.[1])
    .filter((heading): heading is string => heading !== undefined);
  const anchors = new Set(githubSlugs(headings));
  for (const { text } of lines) {
    for (const m of text.matchAll(/<a\s+[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]!);
  }
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

/** Markdown links and images `[text](target)` outside fenced code and inline code spans. */
function linksOf(file: string, markdown: string): Link[] {
  const links: Link[] = [];
  for (const { line, text } of proseLines(markdown)) {
    const withoutCode = text.replace(/(`+)(?:(?!\1).)+?\1/g, '``');
    for (const m of withoutCode.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'][^)]*["'])?\s*\)/g)) {
      links.push({ file, line, target: m[1]! });
    }
  }
  return links;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Problems with the relative links of `files`, as `file:line: target: why`. */
function brokenLinks(files: string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let set = anchorCache.get(file);
    if (!set) anchorCache.set(file, (set = anchorsOf(read(file))));
    return set;
  };
  const problems: string[] = [];
  for (const file of files) {
    for (const link of linksOf(file, read(file))) {
      if (isExternal(link.target)) continue;
      const where = `${relative(root, file)}:${link.line}: ${link.target}`;
      const hash = link.target.indexOf('#');
      const pathPart = decodeURIComponent(hash === -1 ? link.target : link.target.slice(0, hash));
      const fragment = hash === -1 ? null : decodeURIComponent(link.target.slice(hash + 1));
      const sameFile = pathPart === '';
      const targetFile = sameFile ? file : resolve(dirname(file), pathPart);
      if (!sameFile && !existsSync(targetFile)) {
        problems.push(`${where}: no such file ${relative(root, targetFile)}`);
        continue;
      }
      if (fragment === null) continue;
      if (!targetFile.endsWith('.md') || (!sameFile && statSync(targetFile).isDirectory())) {
        problems.push(`${where}: #${fragment} points into a file that is not markdown`);
        continue;
      }
      if (!anchors(targetFile).has(fragment))
        problems.push(`${where}: no heading or anchor #${fragment} in ${relative(root, targetFile)}`);
    }
  }
  return problems;
}

describe('GitHub heading slugs', () => {
  it('lowercases, drops punctuation and backticks, keeps - and _, and turns spaces into -', () => {
    expect(githubSlug('Quick start')).toBe('quick-start');
    expect(githubSlug('`enqueue <file> --dry-run`')).toBe('enqueue-file---dry-run');
    expect(githubSlug('`schedule add | list | remove`')).toBe('schedule-add--list--remove');
    expect(githubSlug('Exactly once: no duplicate assignments')).toBe('exactly-once-no-duplicate-assignments');
    expect(githubSlug('E_REDIS_UNAVAILABLE')).toBe('e_redis_unavailable');
    expect(githubSlug('Dashboard (`/ui`)')).toBe('dashboard-ui');
    expect(githubSlug('See [the docs](docs/cli.md)')).toBe('see-the-docs');
  });

  it('numbers duplicate headings -1, -2 in order', () => {
    expect(githubSlugs(['Notes', 'Other', 'Notes', 'Notes'])).toEqual(['notes', 'other', 'notes-1', 'notes-2']);
    expect(githubSlugs(['a-1', 'a', 'a'])).toEqual(['a-1', 'a', 'a-2']);
  });
});

describe('docs links', () => {
  const files = docFiles();

  it('finds the README, the docs pages and the benchmark README', () => {
    const names = files.map((file) => relative(root, file));
    expect(names).toContain('README.md');
    expect(names).toContain('bench/README.md');
    expect(names.filter((name) => name.startsWith('docs/')).length).toBeGreaterThan(0);
  });

  it('every relative link in the docs resolves to a file, and every #anchor to a heading of it', () => {
    expect(brokenLinks(files)).toEqual([]);
  });

  it('reports a link to a missing file, a missing heading, and ignores links in code blocks', () => {
    const page = join(root, 'docs/__fixture__.md');
    const text = [
      '# Title',
      '## Same',
      '## Same',
      '[ok](#same-1) [ok](#title) [ok](cli.md) [ok](https://example.com/#x) [ok](#here)',
      '<a id="here"></a>',
      '[bad](#same-2) [bad](missing.md) [bad](cli.md#no-such-heading)',
      '`[not a link](nowhere.md)`',
      '```md',
      '[not a link](nowhere.md)',
      '```',
    ].join('\n');
    const read = (file: string) => (file === page ? text : readFileSync(file, 'utf8'));
    const problems = brokenLinks([page], read);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('#same-2');
    expect(problems[1]).toContain('no such file docs/missing.md');
    expect(problems[2]).toContain('no heading or anchor #no-such-heading in docs/cli.md');
  });
});

describe('docs content', () => {
  it(`the README stays short: at most ${README_MAX_LINES} lines`, () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('every error code has its own heading in docs/errors.md', () => {
    const anchors = anchorsOf(readFileSync(join(root, 'docs/errors.md'), 'utf8'));
    const codes = [...Object.values(ErrorCodes), ...Object.values(GraphFailureCodes)];
    expect(codes.filter((code) => !anchors.has(code.toLowerCase()))).toEqual([]);
  });

  it('user docs cite no tracker numbers', () => {
    const hits = docFiles().flatMap((file) =>
      proseLines(readFileSync(file, 'utf8'))
        .filter(({ text }) => /\bissue[s]?\b[:\s]*(\d|\()/i.test(text))
        .map(({ line, text }) => `${relative(root, file)}:${line}: ${text.trim()}`),
    );
    expect(hits).toEqual([]);
  });
});
