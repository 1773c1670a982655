/**
 * Extra scripts loaded on demand: KaTeX and the highlight.js languages beyond the common ones. The
 * main bundle is one classic script at a fixed name that AppAPI registers, so there are no ES chunks;
 * instead tools/build-extras.mjs writes small IIFE files at fixed names next to it
 * (js/assistant_stream-<name>.js, some with a .css), and this module adds them as <script> / <link>
 * tags from the folder the main script itself came from: the AppAPI proxy, HaRP or the local page alike.
 * Nextcloud's CSP allows them: its script-src-elem has 'strict-dynamic', so a script added by a trusted
 * script runs; the nonce is copied all the same.
 */
import { ref } from 'vue'
import { logger } from '../logger.js'
import { EXTRA_EVENT } from './define.js'

const MAIN = 'assistant_stream-main.js'
/** A proxy that hangs must not leave a promise pending for ever. */
const LOAD_TIMEOUT_MS = 20000

/** Counts the extras that arrived: a render that used a placeholder depends on it and runs again. */
export const extrasLoaded = ref(0)

/** name -> value, once loaded */
const values = new Map()
/** name -> Promise<value|null>, once asked for */
const pending = new Map()

document.addEventListener(EXTRA_EVENT, (event) => {
	const { name, value } = event.detail || {}
	if (typeof name === 'string' && !values.has(name)) {
		values.set(name, value)
	}
})

/**
 * @param {string} file a file name in js/
 * @return {string} its URL, next to the main script (keeping its ?v= cache buster)
 */
export function extraUrl(file) {
	const main = document.querySelector(`script[src*="${MAIN}"]`)
	if (main?.src) {
		const url = new URL(main.src, document.baseURI)
		url.pathname = url.pathname.replace(/[^/]*$/, file)
		return url.href
	}
	return new URL('js/' + file, document.baseURI).href
}

/** @return {string} the nonce of the page's scripts, if any */
function pageNonce() {
	const script = document.querySelector(`script[src*="${MAIN}"]`) || document.querySelector('script[nonce]')
	return script?.nonce || script?.getAttribute('nonce') || ''
}

/**
 * @param {string} name an extra
 * @return {unknown} its value when already loaded, else undefined
 */
export function extraNow(name) {
	return values.get(name)
}

/**
 * Load an extra once; later calls share the promise.
 *
 * @param {string} name the extra: js/assistant_stream-<name>.js
 * @param {object} [options] what else it needs
 * @param {boolean} [options.css] it has a stylesheet, js/assistant_stream-<name>.css
 * @return {Promise<unknown>} its value, or null when it could not be loaded; never rejects
 */
export function loadExtra(name, { css = false } = {}) {
	if (values.has(name)) {
		return Promise.resolve(values.get(name))
	}
	if (!pending.has(name)) {
		pending.set(name, inject(name, css))
	}
	return pending.get(name)
}

/**
 * @param {string} name the extra
 * @param {boolean} css whether to add its stylesheet too
 * @return {Promise<unknown>} its value or null
 */
function inject(name, css) {
	if (css) {
		const link = document.createElement('link')
		link.rel = 'stylesheet'
		link.href = extraUrl(`assistant_stream-${name}.css`)
		document.head.append(link)
	}
	return new Promise((resolve) => {
		const script = document.createElement('script')
		let timer = null
		const settle = (ok) => {
			clearTimeout(timer)
			script.onload = script.onerror = null
			const value = ok && values.has(name) ? values.get(name) : null
			if (value === null) {
				logger.warn(`could not load ${script.src}`)
			} else {
				extrasLoaded.value++
			}
			resolve(value)
		}
		script.onload = () => settle(true)
		script.onerror = () => settle(false)
		timer = setTimeout(() => settle(false), LOAD_TIMEOUT_MS)
		script.async = true
		const nonce = pageNonce()
		if (nonce) {
			script.nonce = nonce
		}
		script.src = extraUrl(`assistant_stream-${name}.js`)
		document.head.append(script)
	})
}
