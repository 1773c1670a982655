/**
 * The extras: files at fixed names next to the main bundle that the page loads on demand
 * (src/extras/loader.js), because AppAPI registers one classic script and Vite's IIFE output cannot
 * split. Run by vite.config.js after every build; esbuild (which Vite itself uses) builds them all
 * in one go, in well under a second:
 *
 * - js/assistant_stream-katex.js + .css + assistant_stream-katex-KaTeX_*.woff2 (only woff2: every
 *   browser Nextcloud supports reads it; the woff/ttf fallbacks would only add files);
 * - js/assistant_stream-hl-<language>.js for each highlight.js language, and
 *   js/assistant_stream-hl-index.js, which maps every name and alias to its file.
 */
import { build } from 'esbuild'
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(ROOT, 'package.json'))
const DEFINE = join(ROOT, 'src', 'extras', 'define.js')

/** @return {string[]} the names of highlight.js's languages (one file each) */
function languages() {
	const folder = join(dirname(require.resolve('highlight.js/package.json')), 'lib', 'languages')
	return readdirSync(folder)
		.filter((f) => f.endsWith('.js') && !f.endsWith('.js.js'))
		.map((f) => f.slice(0, -3))
		.sort()
}

/** @return {Record<string, string>} every language name and alias, lower case -> its file's language */
function languageIndex() {
	const hljs = require('highlight.js')
	const index = {}
	for (const name of languages()) {
		const language = hljs.getLanguage(name)
		for (const alias of [name, ...(language?.aliases ?? [])]) {
			index[alias.toLowerCase()] ??= name
		}
	}
	return index
}

/** Entry points made up here: `extra:hl-<name>` and `extra:hl-index`. */
const virtualEntries = {
	name: 'assistant-stream-extra-entries',
	setup(b) {
		b.onResolve({ filter: /^extra:/ }, (args) => ({ path: args.path, namespace: 'extra' }))
		b.onLoad({ filter: /.*/, namespace: 'extra' }, (args) => {
			const name = args.path.slice('extra:'.length)
			const define = `import { defineExtra } from ${JSON.stringify(DEFINE)}\n`
			const contents = name === 'hl-index'
				? define + `defineExtra('hl-index', ${JSON.stringify(languageIndex())})\n`
				: define + `import language from 'highlight.js/lib/languages/${name.slice(3)}'\n`
					+ `defineExtra(${JSON.stringify(name)}, language)\n`
			return { contents, loader: 'js', resolveDir: ROOT }
		})
	},
}

/** KaTeX's stylesheet without the woff and ttf fallbacks of each font. */
const woff2Only = {
	name: 'assistant-stream-katex-woff2-only',
	setup(b) {
		b.onLoad({ filter: /katex(\.min)?\.css$/ }, async (args) => {
			const { readFile } = await import('node:fs/promises')
			const css = (await readFile(args.path, 'utf8'))
				.replace(/,\s*url\([^)]*\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, '')
			return { contents: css, loader: 'css', resolveDir: dirname(args.path) }
		})
	},
}

/**
 * @param {object} [options] how
 * @param {string} [options.outDir] where (js/)
 * @param {boolean} [options.minify] minify (not in development builds)
 * @return {Promise<void>}
 */
export async function buildExtras({ outDir = join(ROOT, 'js'), minify = true } = {}) {
	const common = {
		bundle: true,
		format: 'iife',
		target: 'es2022',
		minify,
		outdir: outDir,
		logLevel: 'warning',
		legalComments: 'none',
	}
	await Promise.all([
		build({
			...common,
			entryPoints: [{ in: join(ROOT, 'src', 'extras', 'katex.js'), out: 'assistant_stream-katex' }],
			loader: { '.woff2': 'file' },
			assetNames: 'assistant_stream-katex-[name]',
			plugins: [woff2Only],
		}),
		build({
			...common,
			entryPoints: ['hl-index', ...languages().map((l) => 'hl-' + l)]
				.map((name) => ({ in: 'extra:' + name, out: 'assistant_stream-' + name })),
			plugins: [virtualEntries],
		}),
	])
}

if (globalThis.process?.argv[1] === fileURLToPath(import.meta.url)) {
	await buildExtras()
}
