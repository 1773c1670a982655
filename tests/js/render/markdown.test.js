import katex from 'katex'
import { describe, expect, test } from 'vitest'
import { defineExtra } from '../../../src/extras/define.js'
import { extraNow, extraUrl } from '../../../src/extras/loader.js'
import { renderMarkdown } from '../../../src/render/markdown.js'

/**
 * @param {string} md Markdown
 * @return {HTMLElement} its rendering, in a div
 */
function render(md) {
	const div = document.createElement('div')
	div.innerHTML = renderMarkdown(md)
	return div
}

describe('math', () => {
	test('money is not math, before and after KaTeX arrives', () => {
		for (const text of ['It costs $5 and $6.', 'From $20,000 to $30,000 a year', 'Pay $5, $6 or $7', 'Between $5 and 6 $ signs']) {
			const div = render(text)
			expect(div.querySelector('.as-math')).toBeNull()
			expect(div.textContent.trim()).toBe(text)
		}
	})

	test('until KaTeX is loaded a formula shows as its source, and KaTeX is asked for', () => {
		if (extraNow('katex')) {
			return // another test of this file loaded it first
		}
		const div = render('Energy: $E=mc^2$.')
		const pending = div.querySelector('[data-test=math-pending]')
		expect(pending.textContent).toBe('$E=mc^2$')
		const script = document.querySelector('script[src$="assistant_stream-katex.js"]')
		expect(script).not.toBeNull()
		expect(document.querySelector('link[href$="assistant_stream-katex.css"]')).not.toBeNull()
	})

	test('inline and block formulas in all four delimiters, rendered by KaTeX', () => {
		defineExtra('katex', katex)
		const div = render('Inline $a^2+b^2=c^2$ and \\(x_1\\), then\n\n$$\n\\int_0^1 x\\,dx\n$$\n\nand\n\n\\[\\frac{1}{2}\\]\n')
		const math = [...div.querySelectorAll('[data-test=math]')]
		expect(math.map((m) => m.tagName)).toEqual(['SPAN', 'SPAN', 'DIV', 'DIV'])
		expect(math.every((m) => m.querySelector('.katex'))).toBe(true)
		expect(math[2].querySelector('.katex-display')).not.toBeNull()
		expect(math[0].querySelector('annotation').textContent).toBe('a^2+b^2=c^2')
	})

	test('TeX cannot inject HTML or links (trust is off)', () => {
		defineExtra('katex', katex)
		const div = render('$\\href{javascript:alert(1)}{x}$ and $<img src=x onerror=alert(1)>$')
		expect(div.querySelector('a')).toBeNull()
		expect(div.querySelector('img')).toBeNull()
	})

	test('money next to a formula: only the formula is math', () => {
		defineExtra('katex', katex)
		const div = render('It costs $5 and $6 in total, and Einstein wrote $E=mc^2$.')
		const math = div.querySelectorAll('[data-test=math]')
		expect(math.length).toBe(1)
		expect(math[0].querySelector('annotation').textContent).toBe('E=mc^2')
		expect(div.textContent).toContain('It costs $5 and $6 in total')
	})

	test('code spans and unclosed dollars stay text', () => {
		const div = render('Use `$HOME` and a lone $ sign')
		expect(div.querySelector('.as-math')).toBeNull()
		expect(div.querySelector('code').textContent).toBe('$HOME')
	})
})

describe('code blocks', () => {
	test('a common language is highlighted, under its label and a Copy button', () => {
		const div = render('```python\ndef f(x):\n    return "<b>"\n```\n')
		const block = div.querySelector('[data-test=code-block]')
		expect(block.dataset.lang).toBe('python')
		expect(block.querySelector('[data-test=code-lang]').textContent).toBe('python')
		expect(block.querySelector('button[data-test=copy-code]').textContent).toBe('Copy')
		expect(block.querySelector('code .hljs-keyword').textContent).toBe('def')
		expect(block.querySelector('code').textContent).toBe('def f(x):\n    return "<b>"\n')
		expect(block.querySelector('b')).toBeNull()
	})

	test('an uncommon language shows plain, and its index is asked for', () => {
		const div = render('```haskell\nmain = putStrLn "hi"\n```\n')
		expect(div.querySelector('code span')).toBeNull()
		expect(div.querySelector('[data-test=code-lang]').textContent).toBe('haskell')
		expect(document.querySelector('script[src$="assistant_stream-hl-index.js"]')).not.toBeNull()
	})

	test('once the index and the language arrived, it is highlighted too (by alias)', async () => {
		const { default: haskell } = await import('highlight.js/lib/languages/haskell')
		defineExtra('hl-index', { haskell: 'haskell', hs: 'haskell' })
		defineExtra('hl-haskell', haskell)
		const div = render('```hs\nmodule Main where\n```\n')
		expect(div.querySelector('code .hljs-keyword').textContent).toBe('module')
	})

	test('no language: a plain block labelled text', () => {
		const div = render('```\n<script>x</script>\n```\n')
		expect(div.querySelector('[data-test=code-lang]').textContent).toBe('text')
		expect(div.querySelector('script')).toBeNull()
		expect(div.querySelector('code').textContent).toBe('<script>x</script>\n')
	})
})

test('extras come from the folder of the main script, with its cache buster', () => {
	const main = document.createElement('script')
	main.setAttribute('src', '/index.php/apps/app_api/proxy/assistant_stream/js/assistant_stream-main.js?v=abc')
	document.head.append(main)
	try {
		expect(extraUrl('assistant_stream-katex.js'))
			.toBe('http://nextcloud.test/index.php/apps/app_api/proxy/assistant_stream/js/assistant_stream-katex.js?v=abc')
	} finally {
		main.remove()
	}
})
