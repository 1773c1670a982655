import { extraNow, loadExtra } from '../extras/loader.js'
/**
 * TeX to HTML with KaTeX, which is loaded on demand (extras/loader.js): until it is there a formula
 * shows as its source, and the page renders again when it arrives (extrasLoaded). KaTeX runs with
 * trust off (no \href, \url or HTML extensions) and bounded sizes and macro expansion.
 */
import { escapeHtml } from './escape.js'

/** Rendering the same formulas again on every streamed chunk would be wasted: keep the recent ones. */
const CACHE_MAX = 400
const cache = new Map()

const OPTIONS = Object.freeze({
	throwOnError: false,
	output: 'htmlAndMathml',
	trust: false,
	strict: 'ignore',
	maxSize: 20,
	maxExpand: 1000,
})

/**
 * @param {string} tex a formula
 * @param {boolean} display a block (displayed) formula, not inline
 * @return {string} safe HTML
 */
export function renderTex(tex, display) {
	const katex = extraNow('katex')
	const tag = display ? 'div' : 'span'
	const cls = display ? 'as-math as-math--block' : 'as-math'
	// A wide block formula scrolls sideways: it must take the keyboard focus to be scrolled without a mouse.
	const focus = display ? ' tabindex="0"' : ''
	if (!katex) {
		loadExtra('katex', { css: true })
		const source = display ? `$$${tex}$$` : `$${tex}$`
		return `<${tag} class="${cls} as-math--pending" data-test="math-pending">${escapeHtml(source)}</${tag}>`
	}
	const key = (display ? 'D' : 'I') + tex
	let html = cache.get(key)
	if (html === undefined) {
		try {
			html = katex.renderToString(tex, { ...OPTIONS, displayMode: display })
		} catch {
			html = `<code>${escapeHtml(tex)}</code>` // throwOnError is off; this is for the unexpected
		}
		if (cache.size >= CACHE_MAX) {
			cache.delete(cache.keys().next().value)
		}
		cache.set(key, html)
	}
	return `<${tag} class="${cls}"${focus} data-test="math">${html}</${tag}>`
}
