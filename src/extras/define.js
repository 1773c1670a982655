/**
 * How an extra script (built by tools/build-extras.mjs, loaded by loader.js) hands its module to the
 * main bundle: one DOM event, no global variable.
 */

export const EXTRA_EVENT = 'assistant-stream:extra'

/**
 * @param {string} name the extra's name (its file is js/assistant_stream-<name>.js)
 * @param {unknown} value what it provides
 */
export function defineExtra(name, value) {
	document.dispatchEvent(new CustomEvent(EXTRA_EVENT, { detail: { name, value } }))
}
